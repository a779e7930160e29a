package cpu

import "golang.org/x/sys/cpu"

// The CPU features the amd64 kernel variants need (see registry.go).
var (
	hasAVX2    = feature{"AVX2", cpu.X86.HasAVX2}
	hasFMA     = feature{"FMA", cpu.X86.HasFMA}
	hasAVX512F = feature{"AVX512F", cpu.X86.HasAVX512F}
)
