package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestInvertedResidualForward checks the fused chain against its separate
// operations, bit for bit, with and without upsampling, for batches that split into
// several chunks (serial engine loops, inside Spread) and as one (parallel loops).
func TestInvertedResidualForward(t *testing.T) {
	type shape struct {
		n, h, w, cin, ex, cout, k int
		up                        bool
	}
	shapes := []shape{
		{3, 4, 4, 8, 48, 8, 5, false}, {5, 8, 8, 32, 192, 32, 5, false}, {2, 4, 4, 64, 384, 32, 5, true},
		{7, 16, 16, 16, 96, 16, 5, true}, {1, 3, 5, 8, 24, 12, 3, false}, {4, 2, 3, 16, 40, 8, 3, true},
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, s := range shapes {
		for _, withBias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%+v/bias=%v", s, withBias), func(t *testing.T) {
				u := 1
				if s.up {
					u = 2
				}
				pad := s.k / 2
				c1 := ConvLayer{P: ConvParams{N: s.n, H: s.h, W: s.w, C: s.cin, K: s.ex, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}}
				c2 := ConvLayer{P: ConvParams{N: s.n, H: u * s.h, W: u * s.w, C: s.ex, K: s.ex, KH: s.k, KW: s.k, StrideH: 1, StrideW: 1, PadH: pad, PadW: pad, DilH: 1, DilW: 1, Groups: s.ex}}
				c3 := ConvLayer{P: ConvParams{N: s.n, H: u * s.h, W: u * s.w, C: s.ex, K: s.cout, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}}
				for _, c := range []*ConvLayer{&c1, &c2, &c3} {
					c.W = convRandSlice(rng, c.P.K*c.P.KH*c.P.KW*(c.P.C/c.P.Groups))
					if withBias {
						c.B = convRandSlice(rng, c.P.K)
					}
				}
				x := convRandSlice(rng, s.n*s.h*s.w*s.cin)
				t1 := make([]float32, s.n*s.h*s.w*s.ex)
				t2 := make([]float32, s.n*u*s.h*u*s.w*s.ex)
				want := make([]float32, s.n*u*s.h*u*s.w*s.cout)
				Conv2DForwardSwish(c1.P, x, c1.W, c1.B, t1)
				if s.up {
					DepthwiseUp2xForward(c2.P, t1, c2.W, c2.B, t2, true)
				} else {
					Conv2DForwardSwish(c2.P, t1, c2.W, c2.B, t2)
				}
				Conv2DForward(c3.P, t2, c3.W, c3.B, want)
				for _, serial := range []bool{true, false} {
					got := convRandSlice(rng, len(want))
					run := func() { InvertedResidualForward(x, c1, c2, c3, s.up, got) }
					if serial {
						Spread(1, func(int) { run() })
					} else {
						run()
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("serial=%v: y[%d] = %g, separate operations %g", serial, i, got[i], want[i])
						}
					}
				}
			})
		}
	}
}

// TestInvertedResidualForwardRejects checks that convolutions that do not chain are
// refused with a panic naming the op.
func TestInvertedResidualForwardRejects(t *testing.T) {
	c1 := ConvLayer{P: ConvParams{N: 1, H: 4, W: 4, C: 8, K: 16, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}, W: make([]float32, 128)}
	c2 := ConvLayer{P: ConvParams{N: 1, H: 4, W: 4, C: 16, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 16}, W: make([]float32, 144)}
	c3 := ConvLayer{P: ConvParams{N: 1, H: 4, W: 4, C: 16, K: 8, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}, W: make([]float32, 128)}
	buf := make([]float32, 4096)
	InvertedResidualForward(buf, c1, c2, c3, false, buf) // chains
	bad := map[string]func(a, b, c *ConvLayer) bool{
		"channels":         func(a, b, c *ConvLayer) bool { b.P.C, b.P.K, b.P.Groups = 12, 12, 12; return false },
		"not depthwise":    func(a, b, c *ConvLayer) bool { b.P.Groups = 1; return false },
		"upsampled size":   func(a, b, c *ConvLayer) bool { return true },
		"conv3 size":       func(a, b, c *ConvLayer) bool { c.P.H = 5; return false },
		"batch":            func(a, b, c *ConvLayer) bool { c.P.N = 2; return false },
		"short conv2 w":    func(a, b, c *ConvLayer) bool { b.W = b.W[:10]; return false },
		"up, odd kernel":   func(a, b, c *ConvLayer) bool { b.P.H, b.P.W, c.P.H, c.P.W, b.P.PadH = 8, 8, 8, 8, 0; return true },
		"short conv3 bias": func(a, b, c *ConvLayer) bool { c.B = make([]float32, 3); return false },
		"short output y":   func(a, b, c *ConvLayer) bool { c.P.K = 8000; c.W = make([]float32, 8000*16); return false },
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			a, b, c := c1, c2, c3
			up := f(&a, &b, &c)
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("no panic")
				}
			}()
			InvertedResidualForward(buf, a, b, c, up, buf)
		})
	}
}
