package cpu

import (
	"math/rand/v2"
	"time"
)

// convBench holds the buffers of one convolution benchmark: a forward, a
// backward-data and a backward-filter pass (with bias) per step.
type convBench struct {
	p                          ConvParams
	x, w, b, y, dy, dx, dw, db []float32
}

func newConvBench(p ConvParams) *convBench {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	oh, ow := p.OutHW()
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32() - 0.5
		}
		return s
	}
	return &convBench{
		p:  p,
		x:  fill(p.N * p.H * p.W * p.C),
		w:  fill(p.K * p.KH * p.KW * p.C / p.Groups),
		b:  fill(p.K),
		y:  make([]float32, p.N*oh*ow*p.K),
		dy: fill(p.N * oh * ow * p.K),
		dx: make([]float32, p.N*p.H*p.W*p.C),
		dw: make([]float32, p.K*p.KH*p.KW*p.C/p.Groups),
		db: make([]float32, p.K),
	}
}

// step runs forward, backward-data and backward-filter once.
func (c *convBench) step() {
	Conv2DForward(c.p, c.x, c.w, c.b, c.y)
	Conv2DBackwardData(c.p, c.dy, c.w, c.dx)
	Conv2DBackwardFilter(c.p, c.x, c.dy, c.dw, c.db)
}

// flops counts 3 passes of 2 flops per multiply-add of the convolution.
func (c *convBench) flops() float64 {
	oh, ow := c.p.OutHW()
	return 3 * 2 * float64(c.p.N*oh*ow*c.p.K) * float64(c.p.KH*c.p.KW*c.p.C/c.p.Groups)
}

func (c *convBench) gflops(iters int) float64 {
	c.step() // warm the scratch pools and caches
	iters = max(1, iters)
	start := time.Now()
	for i := 0; i < iters; i++ {
		c.step()
	}
	return c.flops() * float64(iters) / time.Since(start).Seconds() / 1e9
}

// bench3x3Params is a 3×3 convolution, batch 32, 64→64 channels, 32×32, stride 1, pad 1.
var bench3x3Params = ConvParams{N: 32, H: 32, W: 32, C: 64, K: 64, KH: 3, KW: 3,
	StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}

// benchDepthwiseParams is a depthwise 5×5 convolution, batch 32, 192 channels, 16×16, pad 2.
var benchDepthwiseParams = ConvParams{N: 32, H: 16, W: 16, C: 192, K: 192, KH: 5, KW: 5,
	StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 192}

// BenchConv3x3 times iters steps of forward + backward-data + backward-filter of a
// 3×3 convolution (batch 32, 64→64 channels, 32×32, stride 1, pad 1, with bias) and
// returns the rate in GFLOP/s, counting 3 × 2·B·H·W·Cin·Cout·9 flops per step.
func BenchConv3x3(iters int) (gflops float64) {
	return newConvBench(bench3x3Params).gflops(iters)
}

// BenchDepthwise5x5 times iters steps of forward + backward-data + backward-filter of
// a depthwise 5×5 convolution (batch 32, 192 channels, 16×16, pad 2, with bias) and
// returns the rate in GFLOP/s, counting 3 × 2·B·H·W·C·25 flops per step.
func BenchDepthwise5x5(iters int) (gflops float64) {
	return newConvBench(benchDepthwiseParams).gflops(iters)
}
