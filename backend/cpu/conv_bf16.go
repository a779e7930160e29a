package cpu

// bf16 convolutions (mixed precision): the products take bf16 operands, rounded to
// nearest even from float32, and accumulate in float32 through SgemmBF16.
//
//   - Dense, grouped and 1×1 convolutions run the im2col path of conv_im2col.go
//     with the column matrix rounded to bf16 as it is gathered (no full bf16 copy of
//     the input is made); the output gradient is rounded chunk by chunk.
//   - Depthwise convolutions round the input and the weights to bf16 values kept in
//     float32 and run the float32 depthwise kernels (a rounding pass, not a faster
//     kernel: the products of bf16 values are exact in float32, so this is the bf16
//     product with float32 accumulation). The output gradient of the depthwise
//     backward-data kernel stays float32.
//
// Weights arrive already rounded ([]uint16, OHWI): the layer above rounds them once
// per step.

import (
	"fmt"
	"unsafe"
)

// RoundBF16 sets dst[i] to src[i] rounded to the nearest bf16 value (ties to even),
// kept as a float32, for i < min(len(dst), len(src)); dst may be src.
func RoundBF16(dst, src []float32) {
	n := min(len(dst), len(src))
	Parallel(n, 1<<14, func(lo, hi int) {
		var buf [2048]uint16
		for i := lo; i < hi; i += len(buf) {
			j := min(hi, i+len(buf))
			BF16FromF32Slice(buf[:j-i], src[i:j])
			F32FromBF16Slice(dst[i:j], buf[:j-i])
		}
	})
}

// scratchU16 returns a pooled buffer of n uint16 (the storage of a float32 scratch
// buffer of half the length) and the handle to return with putConvScratch.
func scratchU16(n int) ([]uint16, *[]float32) {
	b := getConvScratch((n + 1) / 2)
	return unsafe.Slice((*uint16)(unsafe.Pointer(&(*b)[0])), n), b
}

// narrowPar is BF16FromF32Slice in parallel.
func narrowPar(dst []uint16, src []float32) {
	n := min(len(dst), len(src))
	Parallel(n, 1<<15, func(lo, hi int) { BF16FromF32Slice(dst[lo:hi], src[lo:hi]) })
}

func (p ConvParams) checkBF16(op string, x []float32, w []uint16, y []float32, xName, yName string) {
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("cpu.%s: %v", op, err))
	}
	oh, ow := p.OutHW()
	if len(x) < p.N*p.H*p.W*p.C || len(y) < p.N*oh*ow*p.K {
		panic(fmt.Sprintf("cpu.%s: %s has %d elements, %s %d, need %d and %d for %+v", op, xName, len(x), yName, len(y),
			p.N*p.H*p.W*p.C, p.N*oh*ow*p.K, p))
	}
	if need := p.K * p.KH * p.KW * (p.C / p.Groups); len(w) < need {
		panic(fmt.Sprintf("cpu.%s: weight has %d elements, need %d for %+v", op, len(w), need, p))
	}
}

// widenWeights returns the bf16 weights widened to float32 (for the depthwise path).
func widenWeights(p ConvParams, w []uint16) *[]float32 {
	n := p.K * p.KH * p.KW * (p.C / p.Groups)
	b := getConvScratch(n)
	F32FromBF16Slice(*b, w[:n])
	return b
}

// roundedInput returns x rounded to bf16 values in a float32 scratch buffer.
func roundedInput(x []float32, n int) *[]float32 {
	b := getConvScratch(n)
	RoundBF16(*b, x[:n])
	return b
}

// Conv2DForwardBF16 is Conv2DForward with bf16 products: y = conv(bf16(x), w) + bias,
// accumulated in float32, where w holds the weights already rounded to bf16. y is
// float32 (not rounded). It panics when p is invalid or a slice is too short.
func Conv2DForwardBF16(p ConvParams, x []float32, w []uint16, bias, y []float32) {
	p.checkBF16("Conv2DForwardBF16", x, w, y, "x", "y")
	if bias != nil && len(bias) < p.K {
		panic(fmt.Sprintf("cpu.Conv2DForwardBF16: bias has %d elements, need %d", len(bias), p.K))
	}
	if p.isDepthwise() {
		xr, wr := roundedInput(x, p.N*p.H*p.W*p.C), widenWeights(p, w)
		depthwiseForward(p, *xr, *wr, bias, y)
		putConvScratch(xr)
		putConvScratch(wr)
		return
	}
	g := newConvGeom(p)
	total := p.N * g.oh
	cols, buf := scratchU16(g.rowsPerC * g.ow * g.colW)
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		g.im2colBF16(x, cols, r0, r1)
		yc := y[r0*g.ow*p.K:]
		for gi := 0; gi < p.Groups; gi++ {
			mustBF16(SgemmBF16(false, true, m, g.kg, g.grpW, 1, cols[gi*g.grpW:], g.colW,
				w[gi*g.kg*g.grpW:], g.grpW, 0, yc[gi*g.kg:], p.K))
		}
		convAddBiasRows(yc, m, p.K, bias)
	}
	putConvScratch(buf)
}

// Conv2DBackwardDataBF16 is Conv2DBackwardData with bf16 products: dx += the
// gradient of Conv2DForwardBF16 with respect to x, with dy rounded to bf16 (except
// for depthwise convolutions, whose dy stays float32) and w the bf16 weights. With
// set, dx is overwritten instead.
func Conv2DBackwardDataBF16(p ConvParams, dy []float32, w []uint16, dx []float32, set bool) {
	p.checkBF16("Conv2DBackwardDataBF16", dx, w, dy, "dx", "dy")
	if set {
		Parallel(len(dx), 1<<15, func(lo, hi int) { clear(dx[lo:hi]) })
	}
	if p.isDepthwise() {
		wr := widenWeights(p, w)
		depthwiseBackwardData(p, dy, *wr, dx)
		putConvScratch(wr)
		return
	}
	g := newConvGeom(p)
	total := p.N * g.oh
	buf := getConvScratch(g.rowsPerC * g.ow * g.colW)
	dcols := *buf
	dy16, buf16 := scratchU16(g.rowsPerC * g.ow * p.K)
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		narrowPar(dy16[:m*p.K], dy[r0*g.ow*p.K:])
		for gi := 0; gi < p.Groups; gi++ {
			mustBF16(SgemmBF16(false, false, m, g.grpW, g.kg, 1, dy16[gi*g.kg:], p.K,
				w[gi*g.kg*g.grpW:], g.grpW, 0, dcols[gi*g.grpW:], g.colW))
		}
		g.col2imAdd(dcols, dx, r0, r1)
	}
	putConvScratch(buf)
	putConvScratch(buf16)
}

// Conv2DBackwardFilterBF16 is Conv2DBackwardFilter with bf16 products: it adds into
// dw the weight gradient from bf16(x) and bf16(dy) (depthwise: bf16(x) and float32
// dy), and into dbias (if not nil) the column sums of the float32 dy.
func Conv2DBackwardFilterBF16(p ConvParams, x, dy, dw, dbias []float32) {
	p.check("Conv2DBackwardFilterBF16", x, dw, dy, "x", "dy")
	if dbias != nil {
		if len(dbias) < p.K {
			panic(fmt.Sprintf("cpu.Conv2DBackwardFilterBF16: dbias has %d elements, need %d", len(dbias), p.K))
		}
		oh, ow := p.OutHW()
		convColumnSums(dy, p.N*oh*ow, p.K, dbias)
	}
	if p.isDepthwise() {
		xr := roundedInput(x, p.N*p.H*p.W*p.C)
		depthwiseBackwardFilter(p, *xr, dy, dw)
		putConvScratch(xr)
		return
	}
	g := newConvGeom(p)
	total := p.N * g.oh
	cols, buf := scratchU16(g.rowsPerC * g.ow * g.colW)
	dy16, buf16 := scratchU16(g.rowsPerC * g.ow * p.K)
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		g.im2colBF16(x, cols, r0, r1)
		narrowPar(dy16[:m*p.K], dy[r0*g.ow*p.K:])
		for gi := 0; gi < p.Groups; gi++ {
			mustBF16(SgemmBF16(true, false, g.kg, g.grpW, m, 1, dy16[gi*g.kg:], p.K,
				cols[gi*g.grpW:], g.colW, 1, dw[gi*g.kg*g.grpW:], g.grpW))
		}
	}
	putConvScratch(buf)
	putConvScratch(buf16)
}

// mustBF16 panics on an error of SgemmBF16 (shapes were checked by the caller, so an
// error is a bug here).
func mustBF16(err error) {
	if err != nil {
		panic("cpu: bf16 convolution: " + err.Error())
	}
}

// im2colBF16 is im2col writing the column rows rounded to bf16.
func (g *convGeom) im2colBF16(x []float32, cols []uint16, r0, r1 int) {
	grain := max(1, 16384/(g.ow*g.colW))
	Parallel(r1-r0, grain, func(lo, hi int) {
		for r := r0 + lo; r < r0+hi; r++ {
			g.im2colRowBF16(x, cols[(r-r0)*g.ow*g.colW:], r)
		}
	})
}

// im2colRowBF16 is im2colRow with the copies rounding to bf16.
func (g *convGeom) im2colRowBF16(x []float32, cols []uint16, r int) {
	im2colRowInto(g, x, cols, r, BF16FromF32Slice)
}
