package cpu

import "testing"

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

func TestBenchFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark workloads")
	}
	if g := BenchDepthwise5x5(1); !(g > 0) {
		t.Errorf("BenchDepthwise5x5 = %g, want a positive rate", g)
	}
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
	defer useConvKernels(useConvKernels(convKernelSets[0]))
	for _, k := range convKernelSets {
		useConvKernels(k)
		b.Run(k.name, func(b *testing.B) { benchConv(b, benchDepthwiseParams) })
	}
}
