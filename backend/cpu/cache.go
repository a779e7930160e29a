package cpu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CacheInfo holds the per-core data cache sizes, in bytes, that the GEMM blocking is
// derived from (see CacheSizes).
type CacheInfo struct {
	L1D, L2, L3 int
	// Source says where the sizes came from: "cpuid", "sysfs" or "default".
	Source string
}

// defaultCaches are the sizes assumed when neither CPUID nor the operating system
// tells: small enough for any current x86-64 or arm64 server core.
var defaultCaches = CacheInfo{L1D: 32 << 10, L2: 512 << 10, L3: 8 << 20, Source: "default"}

// caches are this machine's cache sizes, read once at initialisation.
var caches = detectCaches()

// CacheSizes reports the L1 data, L2 and L3 cache sizes the kernels were blocked
// for: from CPUID on amd64 (leaf 4 on Intel, 0x8000001D on AMD), else from Linux
// sysfs (/sys/devices/system/cpu/cpu0/cache), else defaults. Levels that cannot be
// read keep their default.
func CacheSizes() CacheInfo { return caches }

func detectCaches() CacheInfo {
	if c, ok := cpuidCaches(); ok {
		return c
	}
	if c, ok := sysfsCaches("/sys/devices/system/cpu/cpu0/cache"); ok {
		return c
	}
	return defaultCaches
}

// sysfsCaches reads the data and unified caches listed under dir (Linux sysfs
// layout: index*/level, index*/type, index*/size such as "512K").
func sysfsCaches(dir string) (CacheInfo, bool) {
	idx, _ := filepath.Glob(filepath.Join(dir, "index*"))
	c := defaultCaches
	found := false
	for _, d := range idx {
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(d, name))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		if t := read("type"); t != "Data" && t != "Unified" {
			continue
		}
		level, err := strconv.Atoi(read("level"))
		if err != nil {
			continue
		}
		size, ok := parseCacheSize(read("size"))
		if !ok {
			continue
		}
		switch level {
		case 1:
			c.L1D = size
		case 2:
			c.L2 = size
		case 3:
			c.L3 = size
		default:
			continue
		}
		found = true
	}
	c.Source = "sysfs"
	return c, found
}

// parseCacheSize parses a sysfs cache size: a number of bytes with an optional K, M
// or G suffix (binary multiples).
func parseCacheSize(s string) (int, bool) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n * mult, true
}

// fitCaches bounds the blocking of v (and of its alternative tile shapes) by the
// cache sizes c when threads threads share the last-level cache. The micro-panel
// that stays in L1 across the inner loop (the A micro-panel, mr×kc, or the B
// micro-panel, nr×kc, when bInL1) takes at most 3/4 of L1, leaving room for the
// streamed operand, which bounds kc. The block the inner loop streams (the packed B
// block, kc×nc, or the packed A block, mc×kc, when bInL1) must fit in the core's
// L2 plus its share of L3, which bounds nc (or mc): beyond that it would come from
// memory once per micro-panel. (Half of L2, the textbook bound, was measured on
// AMD Zen 3 to lose about 10% against a block streamed from L3: its L2 is 512 KiB
// and its L3 close.) The values a variant is registered with are its tuned
// ceilings; fitCaches only lowers them, to no fewer than 4 tiles.
//
// kc changes the order in which a product's sum is rounded (one partial sum per
// depth block), so results are bit-identical between machines only where kc is
// the same; nc and mc change nothing but the speed.
func (v *gemmVariant) fitCaches(c CacheInfo, threads int) *gemmVariant {
	roundDown := func(x, m int) int { return x / m * m }
	inL1 := v.mr
	if v.bInL1 {
		inL1 = v.nr
	}
	v.kcMax = min(v.kcMax, max(64, roundDown(c.L1D*3/4/(4*inL1), 16)))
	stream := c.L2 + c.L3/max(1, threads)
	if v.bInL1 {
		v.mcMax = min(v.mcMax, max(4*v.mr, roundDown(stream/(4*v.kcMax), v.mr)))
	} else {
		v.ncMax = min(v.ncMax, max(4*v.nr, roundDown(stream/(4*v.kcMax), v.nr)))
	}
	for _, a := range v.alts {
		a.fitCaches(c, threads)
	}
	return v
}
