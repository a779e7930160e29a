package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDepthwiseTile8SameBits checks that the AVX2 tile kernels for strips of 8 pixels
// give the bits of those for strips of 4: each output sums the same products in the
// same order (bias, then kernel row by kernel row, taps in order).
func TestDepthwiseTile8SameBits(t *testing.T) {
	if !hasAVX2.has || !hasFMA.has {
		t.Skip("this CPU lacks AVX2 or FMA")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	type kernel = func(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)
	for _, k := range []struct {
		taps   int
		k8, k4 kernel
	}{{5, dwTile5x8AVX2, dwTile5x4AVX2}, {3, dwTile3x8AVX2, dwTile3x4AVX2}} {
		for _, c := range []int{8, 24, 96} {
			for _, count := range []int{8, 16, 32} {
				for _, rows := range []int{1, 3, 5} {
					t.Run(fmt.Sprintf("taps=%d/c=%d/count=%d/rows=%d", k.taps, c, count, rows), func(t *testing.T) {
						ys, xs := c+8, c
						xr := (count+k.taps)*xs + 8
						wr := k.taps*c + 8
						x := convRandSlice(rng, rows*xr)
						w := convRandSlice(rng, rows*wr)
						b := convRandSlice(rng, c)
						y8 := make([]float32, count*ys)
						y4 := make([]float32, count*ys)
						k.k8(&y8[0], ys, &b[0], &x[0], xs, xr, &w[0], wr, c, count, rows)
						k.k4(&y4[0], ys, &b[0], &x[0], xs, xr, &w[0], wr, c, count, rows)
						for i := range y8 {
							if math.Float32bits(y8[i]) != math.Float32bits(y4[i]) {
								t.Fatalf("y[%d]: strips of 8 %g, strips of 4 %g", i, y8[i], y4[i])
							}
						}
					})
				}
			}
		}
	}
}
