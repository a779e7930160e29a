package cpu

import "golang.org/x/sys/cpu"

// peakFMA512 runs n iterations of 24 independent AVX-512 FMAs (768 flops each).
//
//go:noescape
func peakFMA512(n int)

// peakFMA256 runs n iterations of 24 independent AVX2 FMAs (384 flops each).
//
//go:noescape
func peakFMA256(n int)

// peakLoop returns the widest FMA loop the machine supports and its flops per iteration.
func peakLoop() (func(n int), float64) {
	switch {
	case cpu.X86.HasAVX512F:
		return peakFMA512, 768
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return peakFMA256, 384
	}
	return peakGo, peakGoFlops
}
