package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDepthwiseTileKernel checks every variant's tile kernel against a float64 loop
// (strips of 8 and 4 and their tails, channel blocks and tails, several kernel rows), and
// that nothing between or after the output pixels is written.
func TestDepthwiseTileKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const guard = 40
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		k := convKernels.get()
		for _, c := range []int{1, 7, 8, 16, 20, 64, 67, 192} {
			for _, kw := range []int{1, 3, 5} {
				for _, count := range []int{1, 3, 4, 5, 8, 9, 13, 16, 23} {
					for _, rows := range []int{1, 2, 5} {
						ys, xs := 2*c+3, c
						xr := (count+kw+1)*xs + 5
						wr := kw*c + 2
						x0 := 3
						x := convRandSlice(rng, x0+(rows-1)*xr+(count+kw-2)*xs+c)
						w := convRandSlice(rng, (rows-1)*wr+(kw-1)*xs+c)
						b := convRandSlice(rng, c)
						y := convRandSlice(rng, (count-1)*ys+c+guard)
						want := make([]float64, len(y))
						for i := range y {
							want[i] = float64(y[i])
						}
						for j := 0; j < count; j++ {
							for i := 0; i < c; i++ {
								s := float64(b[i])
								for r := 0; r < rows; r++ {
									for q := 0; q < kw; q++ {
										s += float64(x[x0+r*xr+(j+q)*xs+i]) * float64(w[r*wr+q*xs+i])
									}
								}
								want[j*ys+i] = s
							}
						}
						k.tile(y[:(count-1)*ys+c], ys, b, x, x0, xs, xr, w, wr, c, count, kw, rows)
						for i := range y {
							if math.Abs(float64(y[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
								t.Fatalf("%s c=%d kw=%d count=%d rows=%d: y[%d] = %g, want %g",
									KernelVariant(FamilyConv), c, kw, count, rows, i, y[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}

// naiveDepthwise is the depthwise convolution of x [N,H,W,C] by w [C,KH,KW] in
// float64, with zero padding, stride 1 and dilation 1.
func naiveDepthwise(n, h, w, c, kh, kw, ph, pw int, x, wt, bias []float32) []float64 {
	oh, ow := h+2*ph-kh+1, w+2*pw-kw+1
	y := make([]float64, n*oh*ow*c)
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for ch := 0; ch < c; ch++ {
					var s float64
					if bias != nil {
						s = float64(bias[ch])
					}
					for r := 0; r < kh; r++ {
						for q := 0; q < kw; q++ {
							ih, iw := i-ph+r, j-pw+q
							if ih >= 0 && ih < h && iw >= 0 && iw < w {
								s += float64(x[((b*h+ih)*w+iw)*c+ch]) * float64(wt[(ch*kh+r)*kw+q])
							}
						}
					}
					y[((b*oh+i)*ow+j)*c+ch] = s
				}
			}
		}
	}
	return y
}

// TestDepthwiseUp2xForward checks the fused upsampling + depthwise convolution
// against the convolution of the explicitly upsampled input (float64 reference),
// with and without bias and Swish, for every kernel variant and both the serial and
// the parallel loop.
func TestDepthwiseUp2xForward(t *testing.T) {
	type shape struct{ n, h, w, c, kh, kw int }
	shapes := []shape{
		{2, 4, 4, 16, 5, 5}, {1, 8, 8, 384, 5, 5}, {3, 1, 1, 8, 5, 5}, {1, 3, 5, 20, 3, 3},
		{2, 2, 6, 9, 5, 3}, {1, 5, 2, 24, 1, 1}, {1, 16, 16, 96, 5, 5}, {1, 2, 3, 8, 7, 7},
	}
	rng := rand.New(rand.NewPCG(23, 24))
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		for _, s := range shapes {
			for _, withBias := range []bool{true, false} {
				for _, swish := range []bool{false, true} {
					name := fmt.Sprintf("%+v/bias=%v/swish=%v", s, withBias, swish)
					p := ConvParams{N: s.n, H: 2 * s.h, W: 2 * s.w, C: s.c, K: s.c, KH: s.kh, KW: s.kw,
						StrideH: 1, StrideW: 1, PadH: s.kh / 2, PadW: s.kw / 2, DilH: 1, DilW: 1, Groups: s.c}
					if s.c == 1 {
						continue
					}
					x := convRandSlice(rng, s.n*s.h*s.w*s.c)
					w := convRandSlice(rng, s.c*s.kh*s.kw)
					var b []float32
					if withBias {
						b = convRandSlice(rng, s.c)
					}
					up := make([]float32, s.n*p.H*p.W*s.c)
					UpsampleNearest2x(s.n, s.h, s.w, s.c, x, up)
					want := naiveDepthwise(s.n, p.H, p.W, s.c, s.kh, s.kw, p.PadH, p.PadW, up, w, b)
					for i, v := range want {
						if swish {
							want[i] = v / (1 + math.Exp(-v))
						}
					}
					for _, serial := range []bool{false, true} {
						got := convRandSlice(rng, len(want)+7)
						run := func() { DepthwiseUp2xForward(p, x, w, b, got[:len(want)], swish) }
						if serial {
							Spread(1, func(int) { run() })
						} else {
							run()
						}
						for i, v := range want {
							if math.Abs(float64(got[i])-v) > 2e-5*(1+math.Abs(v)) {
								t.Fatalf("%s serial=%v: y[%d] = %g, want %g", name, serial, i, got[i], v)
							}
						}
					}
				}
			}
		}
	})
}

// TestDepthwiseUp2xForwardRejects checks that convolutions the fused kernel cannot
// compute are refused with a panic naming the op.
func TestDepthwiseUp2xForwardRejects(t *testing.T) {
	ok := ConvParams{N: 1, H: 4, W: 4, C: 8, K: 8, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 8}
	bad := map[string]func(p *ConvParams){
		"odd height":   func(p *ConvParams) { p.H = 5 },
		"stride 2":     func(p *ConvParams) { p.StrideH, p.StrideW = 2, 2 },
		"dilation 2":   func(p *ConvParams) { p.DilH, p.DilW = 2, 2 },
		"padding 1":    func(p *ConvParams) { p.PadH, p.PadW = 1, 1 },
		"not grouped":  func(p *ConvParams) { p.Groups = 1 },
		"groups of 2":  func(p *ConvParams) { p.Groups = 4 },
		"output width": func(p *ConvParams) { p.KW = 3 },
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			p := ok
			f(&p)
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "DepthwiseUp2xForward") {
					t.Fatalf("recovered %v, want a panic naming cpu.DepthwiseUp2xForward", r)
				}
			}()
			big := make([]float32, 4096)
			DepthwiseUp2xForward(p, big, big, nil, big, false)
		})
	}
}

// TestDepthwiseUp2xTaps checks the multiply-add count of the fused kernel: a 5×5
// kernel becomes 3×3 per phase, a 3×3 one 2×2, a 1×1 one stays 1×1.
func TestDepthwiseUp2xTaps(t *testing.T) {
	for _, c := range []struct {
		k    int
		want float64
	}{{5, 9}, {3, 4}, {1, 1}, {7, 16}} {
		if got := DepthwiseUp2xTaps(c.k, c.k, c.k/2, c.k/2); got != c.want {
			t.Errorf("%d×%d: %v taps, want %v", c.k, c.k, got, c.want)
		}
	}
}
