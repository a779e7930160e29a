package cpu

import (
	"math/rand/v2"
	"time"
)

// timeIt runs fn once to warm up, then repeatedly for at least d (and at least 2
// times), returning the mean seconds per call.
func timeIt(d time.Duration, fn func()) float64 {
	fn()
	n := 0
	start := time.Now()
	for n < 2 || time.Since(start) < d {
		fn()
		n++
	}
	return time.Since(start).Seconds() / float64(n)
}

func benchData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// timeBest runs fn once to warm up, then repeatedly for at least d (and at least 3
// times), returning the fastest call's seconds and the mean.
func timeBest(d time.Duration, fn func()) (best, mean float64) {
	fn()
	n := 0
	start := time.Now()
	for n < 3 || time.Since(start) < d {
		t0 := time.Now()
		fn()
		if s := time.Since(t0).Seconds(); n == 0 || s < best {
			best = s
		}
		n++
	}
	return best, time.Since(start).Seconds() / float64(n)
}

// GemmRate is a GEMM timing in GFLOP/s: the fastest call (comparable with
// PeakGFLOPS, which also keeps the best slices, and steadier when other processes
// share the CPU) and the mean over all calls.
type GemmRate struct{ Best, Mean float64 }

// BenchSgemm times an m×n×k SGEMM (C = A·B, all row-major) and returns its rate,
// counting 2mnk flops per call.
func BenchSgemm(m, n, k int, d time.Duration) GemmRate {
	a, b, c := benchData(m*k, 1), benchData(k*n, 2), make([]float32, m*n)
	best, mean := timeBest(d, func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
	f := 2 * float64(m) * float64(n) * float64(k) / 1e9
	return GemmRate{f / best, f / mean}
}

// BenchSgemmBF16 is BenchSgemm for SgemmBF16 (A and B in bf16).
func BenchSgemmBF16(m, n, k int, d time.Duration) GemmRate {
	a, b, c := make([]uint16, m*k), make([]uint16, k*n), make([]float32, m*n)
	BF16FromF32Slice(a, benchData(m*k, 1))
	BF16FromF32Slice(b, benchData(k*n, 2))
	best, mean := timeBest(d, func() {
		if err := SgemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, c, n); err != nil {
			panic(err) // the sizes above are consistent
		}
	})
	f := 2 * float64(m) * float64(n) * float64(k) / 1e9
	return GemmRate{f / best, f / mean}
}

// BenchConv times forward + input gradient + weight gradient of a convolution and
// returns GFLOP/s, counting 3 × 2·N·OH·OW·K·(C/groups)·KH·KW flops per iteration.
func BenchConv(p ConvParams, d time.Duration) float64 {
	oh, ow := p.OutHW()
	x := benchData(p.N*p.H*p.W*p.C, 1)
	w := benchData(p.K*p.KH*p.KW*p.C/p.Groups, 2)
	bias := benchData(p.K, 3)
	y := make([]float32, p.N*oh*ow*p.K)
	dy := benchData(len(y), 4)
	dx := make([]float32, len(x))
	dw := make([]float32, len(w))
	db := make([]float32, p.K)
	s := timeIt(d, func() {
		Conv2DForward(p, x, w, bias, y)
		Conv2DBackwardData(p, dy, w, dx)
		Conv2DBackwardFilter(p, x, dy, dw, db)
	})
	flops := 3 * 2 * float64(p.N*oh*ow*p.K) * float64(p.C/p.Groups*p.KH*p.KW)
	return flops / s / 1e9
}

// BenchBNSwish times fused batch-norm + Swish forward (training statistics) and
// backward on an [m, c] matrix and returns GB/s, counting the minimal traffic of 5
// float32 streams per element (forward reads x and writes y; backward reads x and dy
// and writes dx).
func BenchBNSwish(m, c int, d time.Duration) float64 {
	p := BNParams{M: m, C: c, Eps: 1e-5, Swish: true}
	x, dy := benchData(m*c, 1), benchData(m*c, 2)
	y, dx := make([]float32, m*c), make([]float32, m*c)
	gamma, beta := benchData(c, 3), benchData(c, 4)
	mean, variance := make([]float32, c), make([]float32, c)
	gg, gb := make([]float32, c), make([]float32, c)
	s := timeIt(d, func() {
		BNStats(p, x, mean, variance)
		BNForward(p, x, mean, variance, gamma, beta, y)
		BNBackward(p, true, x, mean, variance, gamma, beta, dy, dx, gg, gb)
	})
	return 5 * 4 * float64(m*c) / s / 1e9
}
