package cpu

//go:generate sh -c "go run peak_asmgen.go > peak_amd64.s"

// peakFMA512 runs n iterations of 24 independent AVX-512 FMAs (768 flops each).
//
//go:noescape
func peakFMA512(n int)

// peakFMA256 runs n iterations of 12 independent AVX2 FMAs, twice (384 flops each).
//
//go:noescape
func peakFMA256(n int)

func init() {
	peakKernels.add("avx512", prioAVX512, []feature{hasAVX512F}, peakVariant{peakFMA512, 768})
	peakKernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, peakVariant{peakFMA256, 384})
}
