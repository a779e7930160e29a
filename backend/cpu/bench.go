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

// BenchSgemm times an n×n×n SGEMM and returns GFLOP/s (2n³ flops per call).
func BenchSgemm(n int, d time.Duration) float64 {
	a, b, c := benchData(n*n, 1), benchData(n*n, 2), make([]float32, n*n)
	s := timeIt(d, func() { Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) })
	return 2 * float64(n) * float64(n) * float64(n) / s / 1e9
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
