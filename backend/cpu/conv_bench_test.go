package cpu

import (
	"math/rand/v2"
	"testing"
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

// bench3x3Params is a 3×3 convolution, batch 32, 64→64 channels, 32×32, stride 1, pad 1.
var bench3x3Params = ConvParams{N: 32, H: 32, W: 32, C: 64, K: 64, KH: 3, KW: 3,
	StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}

// benchDepthwiseParams is a depthwise 5×5 convolution, batch 32, 192 channels, 16×16, pad 2.
var benchDepthwiseParams = ConvParams{N: 32, H: 16, W: 16, C: 192, K: 192, KH: 5, KW: 5,
	StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 192}

func benchConv(b *testing.B, p ConvParams) {
	c := newConvBench(p)
	c.step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.step()
	}
	b.ReportMetric(c.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConv3x3 is forward + backward-data + backward-filter of a 3×3 convolution,
// batch 32, 64→64 channels, 32×32.
func BenchmarkConv3x3(b *testing.B) { benchConv(b, bench3x3Params) }

// BenchmarkDepthwise5x5 is forward + backward-data + backward-filter of a depthwise
// 5×5 convolution, batch 32, 192 channels, 16×16.
func BenchmarkDepthwise5x5(b *testing.B) { benchConv(b, benchDepthwiseParams) }

// BenchmarkConv1x1 is the three passes of a 1×1 convolution, batch 32, 64→64, 32×32.
func BenchmarkConv1x1(b *testing.B) {
	p := bench3x3Params
	p.KH, p.KW, p.PadH, p.PadW = 1, 1, 0, 0
	benchConv(b, p)
}

// BenchmarkConvGroups8 is the three passes of a 5×5 convolution with 8 groups,
// batch 32, 192→192 channels, 16×16 (NVAE's mconv_e3k5g8 on 64 channels).
func BenchmarkConvGroups8(b *testing.B) {
	p := benchDepthwiseParams
	p.Groups = 8
	benchConv(b, p)
}

// BenchmarkConv1x1Stride2 is the three passes of a 1×1 stride-2 convolution (half
// of NVAE's FactorizedReduce), batch 32, 64→32 channels, 32×32.
func BenchmarkConv1x1Stride2(b *testing.B) {
	p := bench3x3Params
	p.K, p.KH, p.KW, p.PadH, p.PadW, p.StrideH, p.StrideW = 32, 1, 1, 0, 0, 2, 2
	benchConv(b, p)
}

// BenchmarkConvPasses times each pass of the benchmark convolutions alone.
func BenchmarkConvPasses(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    ConvParams
	}{{"3x3", bench3x3Params}, {"depthwise5x5", benchDepthwiseParams}} {
		c := newConvBench(bc.p)
		c.step()
		for _, pass := range []struct {
			name string
			run  func()
		}{
			{"forward", func() { Conv2DForward(c.p, c.x, c.w, c.b, c.y) }},
			{"backwardData", func() { Conv2DBackwardData(c.p, c.dy, c.w, c.dx) }},
			{"backwardFilter", func() { Conv2DBackwardFilter(c.p, c.x, c.dy, c.dw, c.db) }},
		} {
			b.Run(bc.name+"/"+pass.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					pass.run()
				}
				b.ReportMetric(c.flops()/3*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkDepthwiseKernels runs the depthwise benchmark with each inner-kernel
// implementation this CPU has.
func BenchmarkDepthwiseKernels(b *testing.B) {
	benchVariants(b, FamilyConv, func(b *testing.B) { benchConv(b, benchDepthwiseParams) })
}
