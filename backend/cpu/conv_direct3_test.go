package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConv3x3DirectSameBits: the direct 3×3 convolution gives the values of the
// column-matrix path bit for bit, for every GEMM variant that has its tile kernel:
// one and several depth blocks (blocks cut inside a kernel row), 16- and 8-wide column
// tiles, partial tiles, units of several images and of a few rows of one image, with
// and without bias, in parallel and serially. Variants without the kernel must fall
// back to the column matrix.
func TestConv3x3DirectSameBits(t *testing.T) {
	forEachVariant(t, FamilyGemm, func(t *testing.T) {
		shape := ConvParams{N: 1, H: 8, W: 8, C: 64, K: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
		v := conv3Direct(shape, true)
		if v == nil {
			if gemmKernels.get().conv3 != nil {
				t.Fatal("the variant has a 3×3 tile kernel but conv3Direct does not use it")
			}
			return
		}
		r := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][5]int{
			{1, 8, 8, 64, 16}, {3, 16, 16, 32, 16}, {2, 5, 7, 3, 24}, {1, 1, 1, 1, 8},
			{4, 32, 32, 16, 32}, {2, 40, 40, 64, 16}, {1, 3, 50, 200, 40}, {5, 6, 6, 1, 16},
		} {
			for _, withBias := range []bool{true, false} {
				for _, serial := range []bool{false, true} {
					p := shape
					p.N, p.H, p.W, p.C, p.K = s[0], s[1], s[2], s[3], s[4]
					name := fmt.Sprintf("%v/bias=%v/serial=%v", s, withBias, serial)
					x := randSlice(r, p.N*p.H*p.W*p.C)
					w := randSlice(r, p.K*9*p.C)
					var bias []float32
					if withBias {
						bias = randSlice(r, p.K)
					}
					want := randSlice(r, p.N*p.H*p.W*p.K)
					got := randSlice(r, len(want)+5)
					tail := append([]float32(nil), got[len(want):]...)
					if serial {
						inline.Add(1)
					}
					if !withBias && conv3Direct(p, false) == nil {
						// the column-matrix product splits its depth: not this path
						if serial {
							inline.Add(-1)
						}
						continue
					}
					im2colGEMMForward(p, x, w, bias, want)
					conv3x3Forward(v, p, x, w, bias, got)
					if serial {
						inline.Add(-1)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s: y[%d] = %v, want %v", name, i, got[i], want[i])
						}
					}
					for i, v := range tail {
						if got[len(want)+i] != v {
							t.Fatalf("%s: wrote past the end", name)
						}
					}
				}
			}
		}
	})
}
