package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestUpsampleBilinear2x checks the 2× bilinear upsampling (align_corners=True) bit for
// bit against the unfused scalar formula of BilerpF32, for every vector variant and
// channel counts that take the vector kernel per pixel (multiples of 8) or not.
func TestUpsampleBilinear2x(t *testing.T) {
	forEachVariant(t, FamilyVec, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, s := range []struct{ n, h, w, c int }{{2, 3, 4, 8}, {1, 4, 4, 16}, {2, 2, 5, 24}, {1, 3, 3, 3}, {2, 4, 2, 13}, {1, 1, 1, 8}} {
			t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
				x := make([]float32, s.n*s.h*s.w*s.c)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				y := make([]float32, s.n*4*s.h*s.w*s.c)
				UpsampleBilinear2x(s.n, s.h, s.w, s.c, x, y)
				hy0, hy1, hw0, hw1 := bilinearTaps(s.h)
				wx0, wx1, ww0, ww1 := bilinearTaps(s.w)
				for b := 0; b < s.n; b++ {
					for i := 0; i < 2*s.h; i++ {
						for j := 0; j < 2*s.w; j++ {
							for k := 0; k < s.c; k++ {
								at := func(row, col int) float32 { return x[((b*s.h+row)*s.w+col)*s.c+k] }
								top := float32(float32(ww0[j]*at(hy0[i], wx0[j])) + float32(ww1[j]*at(hy0[i], wx1[j])))
								bot := float32(float32(ww0[j]*at(hy1[i], wx0[j])) + float32(ww1[j]*at(hy1[i], wx1[j])))
								want := float32(hw0[i]*top) + float32(hw1[i]*bot)
								got := y[((b*2*s.h+i)*2*s.w+j)*s.c+k]
								if math.Float32bits(got) != math.Float32bits(want) {
									t.Fatalf("y[%d,%d,%d,%d] = %v, want %v", b, i, j, k, got, want)
								}
							}
						}
					}
				}
			})
		}
	})
}
