//go:build !amd64

package cpu

// cpuidCaches reports no sizes: CPUID is an x86 instruction.
func cpuidCaches() (CacheInfo, bool) { return CacheInfo{}, false }
