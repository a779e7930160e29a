package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvBF16MatchesRoundedFloat32 checks the bf16 convolutions against the float32
// ones run on operands rounded to bf16 first: the products are the same exact
// values, so only the order of the float32 sums differs, and the results agree to
// float32 summation error (1e-5 of the sum of |terms|, bounded here by the largest
// float32 result's scale). It covers the im2col path (dense, strided, grouped, with a
// small chunk size so that chunk boundaries are crossed), 1×1 and depthwise.
func TestConvBF16MatchesRoundedFloat32(t *testing.T) {
	defer func(old int) { convChunkFloats = old }(convChunkFloats)
	convChunkFloats = 300
	cases := []ConvParams{
		{N: 2, H: 6, W: 5, C: 3, K: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 1, H: 7, W: 7, C: 4, K: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 2},
		{N: 2, H: 4, W: 4, C: 8, K: 5, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 2, H: 5, W: 5, C: 6, K: 6, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 6},
	}
	r := rand.New(rand.NewPCG(4, 2))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 2*r.Float32() - 1
		}
		return x
	}
	rounded := func(x []float32) []float32 {
		y := make([]float32, len(x))
		RoundBF16(y, x)
		return y
	}
	for _, p := range cases {
		oh, ow := p.OutHW()
		x, w, dy := fill(p.N*p.H*p.W*p.C), fill(p.K*p.KH*p.KW*(p.C/p.Groups)), fill(p.N*oh*ow*p.K)
		bias := fill(p.K)
		w16 := make([]uint16, len(w))
		BF16FromF32Slice(w16, w)
		xr, wr, dyr := rounded(x), rounded(w), rounded(dy)
		if p.isDepthwise() {
			dyr = dy // the depthwise backward-data gradient stays float32
		}
		check := func(what string, got, want []float32) {
			t.Helper()
			scale := 0.0
			for _, v := range want {
				scale = max(scale, math.Abs(float64(v)))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+scale) || math.IsNaN(float64(got[i])) {
					t.Fatalf("%+v %s[%d] = %v, float32 on rounded operands %v", p, what, i, got[i], want[i])
				}
			}
		}
		y, yr := make([]float32, len(dy)), make([]float32, len(dy))
		Conv2DForwardBF16(p, x, w16, bias, y)
		Conv2DForward(p, xr, wr, bias, yr)
		check("y", y, yr)

		dx, dxr := fill(len(x)), make([]float32, len(x))
		copy(dxr, dx)
		Conv2DBackwardDataBF16(p, dy, w16, dx, false) // accumulates
		Conv2DBackwardData(p, dyr, wr, dxr)
		check("dx", dx, dxr)
		Conv2DBackwardDataBF16(p, dy, w16, dx, true) // overwrites
		Conv2DBackwardDataSet(p, dyr, wr, dxr)
		check("dx set", dx, dxr)

		dw, dwr := make([]float32, len(w)), make([]float32, len(w))
		db, dbr := make([]float32, p.K), make([]float32, p.K)
		Conv2DBackwardFilterBF16(p, x, dy, dw, db)
		dyf := rounded(dy)
		if p.isDepthwise() {
			dyf = dy
		}
		Conv2DBackwardFilter(p, xr, dyf, dwr, nil)
		Conv2DBackwardFilter(p, xr, dy, make([]float32, len(w)), dbr) // bias from the float32 dy
		check("dw", dw, dwr)
		check("dbias", db, dbr)
	}
}
