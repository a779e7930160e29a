package cpu

// 2-D convolutions over NHWC activations and OHWI weights. Three paths:
//
//   - 1×1, stride 1, no padding (any groups): GEMMs straight over the [N·H·W, C]
//     tensors with row strides, no copies (conv.go).
//   - Everything else except depthwise: im2col into a reused scratch buffer, chunked
//     by output rows, then Sgemm per group; backward-data is a GEMM into columns and
//     a gather-form col2im; backward-filter is im2col then a GEMM accumulating into
//     dw (conv_im2col.go).
//   - Depthwise (Groups == C == K): direct kernels vectorised over channels, with
//     AVX-512 and AVX2 assembly where the CPU has it (conv_depthwise.go,
//     conv_amd64.s).
//
// Sgemm is never called from inside a Parallel loop: it parallelises itself, and
// nested Parallel calls from every worker at once could fill the pool's queue.

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// ConvParams describes a 2-D cross-correlation with PyTorch semantics:
// out = floor((H + 2*PadH - DilH*(KH-1) - 1)/StrideH) + 1, same for W.
//
// Activations are NHWC ([N,H,W,C] input, [N,OH,OW,K] output) and weights are OHWI
// ([K,KH,KW,C/Groups]). A zero stride or dilation is not defaulted: callers set 1.
type ConvParams struct {
	N, H, W, C                               int // input batch, height, width, channels (NHWC)
	K                                        int // output channels
	KH, KW                                   int
	StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                   int // 1 = dense, C = depthwise (K must be a multiple of Groups, C too)
}

// OutHW returns the output height and width. The values are meaningless (possibly
// non-positive) for parameters that Validate rejects.
func (p ConvParams) OutHW() (oh, ow int) {
	if p.StrideH <= 0 || p.StrideW <= 0 {
		return 0, 0
	}
	oh = convFloorDiv(p.H+2*p.PadH-p.DilH*(p.KH-1)-1, p.StrideH) + 1
	ow = convFloorDiv(p.W+2*p.PadW-p.DilW*(p.KW-1)-1, p.StrideW) + 1
	return oh, ow
}

func convFloorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Validate reports why the parameters do not describe a computable convolution, or
// nil when they do.
func (p ConvParams) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s = %d, must be at least 1", name, v))
		}
	}
	pos("N", p.N)
	pos("H", p.H)
	pos("W", p.W)
	pos("C", p.C)
	pos("K", p.K)
	pos("KH", p.KH)
	pos("KW", p.KW)
	pos("StrideH", p.StrideH)
	pos("StrideW", p.StrideW)
	pos("DilH", p.DilH)
	pos("DilW", p.DilW)
	pos("Groups", p.Groups)
	if p.PadH < 0 {
		errs = append(errs, fmt.Errorf("PadH = %d, must not be negative", p.PadH))
	}
	if p.PadW < 0 {
		errs = append(errs, fmt.Errorf("PadW = %d, must not be negative", p.PadW))
	}
	if len(errs) == 0 {
		if p.C%p.Groups != 0 {
			errs = append(errs, fmt.Errorf("C = %d is not a multiple of Groups = %d", p.C, p.Groups))
		}
		if p.K%p.Groups != 0 {
			errs = append(errs, fmt.Errorf("K = %d is not a multiple of Groups = %d", p.K, p.Groups))
		}
		oh, ow := p.OutHW()
		if oh < 1 || ow < 1 {
			errs = append(errs, fmt.Errorf("output would be %dx%d: the dilated kernel %dx%d does not fit the padded input %dx%d",
				oh, ow, p.DilH*(p.KH-1)+1, p.DilW*(p.KW-1)+1, p.H+2*p.PadH, p.W+2*p.PadW))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid convolution %+v: %w", p, errors.Join(errs...))
	}
	return nil
}

// check panics when p is invalid or a slice is too short: both are programmer
// errors at this level (the layers above validate shapes and return errors).
func (p ConvParams) check(op string, x, w, y []float32, xName, yName string) {
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("cpu.%s: %v", op, err))
	}
	oh, ow := p.OutHW()
	need := func(name string, s []float32, n int) {
		if len(s) < n {
			panic(fmt.Sprintf("cpu.%s: %s has %d elements, need %d for %+v", op, name, len(s), n, p))
		}
	}
	need(xName, x, p.N*p.H*p.W*p.C)
	need("weight", w, p.K*p.KH*p.KW*(p.C/p.Groups))
	need(yName, y, p.N*oh*ow*p.K)
}

func (p ConvParams) isDepthwise() bool { return p.Groups == p.C && p.K == p.C && p.Groups > 1 }

// isPointwise reports a 1×1, stride-1, unpadded convolution: a plain GEMM over the
// [N·H·W, C] input with no copies.
func (p ConvParams) isPointwise() bool {
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
}

// checkForward panics unless the operands of a forward pass fit p.
func (p ConvParams) checkForward(op string, x, w, bias, y []float32) {
	p.check(op, x, w, y, "x", "y")
	if bias != nil && len(bias) < p.K {
		panic(fmt.Sprintf("cpu.%s: bias has %d elements, need %d", op, len(bias), p.K))
	}
}

// Conv2DForward computes y = conv(x, w) + bias. x is [N,H,W,C], w is [K,KH,KW,C/Groups],
// bias is [K] or nil, y is [N,OH,OW,K] and is overwritten. It panics when p is invalid
// or a slice is too short.
func Conv2DForward(p ConvParams, x, w, bias, y []float32) {
	p.checkForward("Conv2DForward", x, w, bias, y)
	switch {
	case p.isDepthwise():
		depthwiseForward(p, x, w, bias, y)
	case p.isPointwise():
		pointwiseForward(p, x, w, bias, y)
	case p.isSingleOutput():
		singleOutputForward(p, x, w, bias, y)
	default:
		im2colForward(p, x, w, bias, y)
	}
}

// Conv2DForwardSwish computes y = Swish(conv(x, w) + bias), the values of
// Conv2DForward followed by SwishSlice, bit for bit. For 1×1 and depthwise
// convolutions the activation is applied to each block of y as soon as it is
// computed, while it is in cache (a GEMM epilogue, or each output row); other
// convolutions apply it in a second pass.
func Conv2DForwardSwish(p ConvParams, x, w, bias, y []float32) {
	p.checkForward("Conv2DForwardSwish", x, w, bias, y)
	switch {
	case p.isDepthwise():
		depthwiseForwardAct(p, x, w, bias, y, true)
	case p.isPointwise() && p.Groups == 1:
		m := p.N * p.H * p.W
		sgemm(false, true, m, p.K, p.C, 1, x, p.C, w, p.C, 0, y, p.K, swishEpilogue(bias))
	default:
		Conv2DForward(p, x, w, bias, y)
		oh, ow := p.OutHW()
		SwishSlice(y[:p.N*oh*ow*p.K], y[:p.N*oh*ow*p.K])
	}
}

// Conv2DBackwardData accumulates the gradient with respect to the input: given
// dy [N,OH,OW,K] and w [K,KH,KW,C/Groups], it adds into dx [N,H,W,C] (dx += ...).
func Conv2DBackwardData(p ConvParams, dy, w, dx []float32) {
	p.check("Conv2DBackwardData", dx, w, dy, "dx", "dy")
	switch {
	case p.isDepthwise():
		depthwiseBackwardData(p, dy, w, dx)
	case p.isPointwise():
		pointwiseBackwardData(p, dy, w, dx)
	default:
		im2colBackwardData(p, dy, w, dx)
	}
}

// Conv2DBackwardDataSet is Conv2DBackwardData into a dx whose old contents are
// ignored: dx is overwritten with the gradient. The result is the same as clearing
// dx and accumulating (each element's sum starts from the first term instead of from
// zero, which changes no value), without the separate pass that clears dx where the
// convolution can write it directly (1×1 convolutions).
func Conv2DBackwardDataSet(p ConvParams, dy, w, dx []float32) {
	p.check("Conv2DBackwardDataSet", dx, w, dy, "dx", "dy")
	if p.isPointwise() {
		pointwiseBackwardDataBeta(p, dy, w, dx, 0)
		return
	}
	Parallel(len(dx), 1<<15, func(lo, hi int) { clear(dx[lo:hi]) })
	Conv2DBackwardData(p, dy, w, dx)
}

// Conv2DBackwardFilter accumulates the gradient with respect to the weight into
// dw [K,KH,KW,C/Groups] and, if dbias is non-nil, with respect to the bias into
// dbias [K], given the input x [N,H,W,C] and dy [N,OH,OW,K].
func Conv2DBackwardFilter(p ConvParams, x, dy, dw, dbias []float32) {
	p.check("Conv2DBackwardFilter", x, dw, dy, "x", "dy")
	if dbias != nil {
		if len(dbias) < p.K {
			panic(fmt.Sprintf("cpu.Conv2DBackwardFilter: dbias has %d elements, need %d", len(dbias), p.K))
		}
		oh, ow := p.OutHW()
		convColumnSums(dy, p.N*oh*ow, p.K, dbias)
	}
	switch {
	case p.isDepthwise():
		depthwiseBackwardFilter(p, x, dy, dw)
	case p.isPointwise():
		pointwiseBackwardFilter(p, x, dy, dw)
	default:
		im2colBackwardFilter(p, x, dy, dw)
	}
}

// ---------------------------------------------------------------------------
// Scratch buffers.

// convScratch keeps reusable float32 buffers in power-of-two size classes, so a
// steady-state convolution allocates nothing. Unlike a sync.Pool it is not emptied
// by the garbage collector (which would make a large im2col buffer reappear every
// few steps); each class keeps at most convScratchKeep buffers, so what it retains
// is bounded by the largest number of buffers of a class ever in use at once.
var convScratch struct {
	mu     sync.Mutex
	free   [48][]*[]float32
	allocs int // buffers made so far (tests check steady state makes none)
}

const convScratchKeep = 8

// getConvScratch returns a buffer of length n (contents undefined). Return it with
// putConvScratch.
func getConvScratch(n int) *[]float32 {
	n = max(n, 1)
	class := bits.Len(uint(n - 1))
	convScratch.mu.Lock()
	list := convScratch.free[class]
	if k := len(list); k > 0 {
		b := list[k-1]
		list[k-1] = nil
		convScratch.free[class] = list[:k-1]
		convScratch.mu.Unlock()
		*b = (*b)[:n]
		return b
	}
	convScratch.allocs++
	convScratch.mu.Unlock()
	b := make([]float32, n, 1<<class)
	return &b
}

func putConvScratch(b *[]float32) {
	c := cap(*b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	class := bits.Len(uint(c - 1))
	convScratch.mu.Lock()
	if len(convScratch.free[class]) < convScratchKeep {
		convScratch.free[class] = append(convScratch.free[class], b)
	}
	convScratch.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Shared helpers.

// convReduceBlocks returns how many row blocks a reduction over rows splits into,
// each with its own partial sums, added in block order at the end. It is at least
// 16 whatever the worker count, so results do not change with GOMAXPROCS up to 16.
func convReduceBlocks() int { return max(16, Workers()) }

// convColumnSums adds the column sums of the rows×cols row-major matrix a
// into out.
func convColumnSums(a []float32, rows, cols int, out []float32) {
	nb := min(convReduceBlocks(), max(1, rows/64))
	if nb == 1 {
		for r := 0; r < rows; r++ {
			convAddTo(out[:cols], a[r*cols:(r+1)*cols])
		}
		return
	}
	pb := getConvScratch(nb * cols)
	part := *pb
	clear(part)
	Parallel(nb, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			acc := part[b*cols : (b+1)*cols]
			r0, r1 := b*rows/nb, (b+1)*rows/nb
			for r := r0; r < r1; r++ {
				convAddTo(acc, a[r*cols:(r+1)*cols])
			}
		}
	})
	for b := 0; b < nb; b++ {
		convAddTo(out[:cols], part[b*cols:(b+1)*cols])
	}
	putConvScratch(pb)
}

// convAddTo sets dst[i] += src[i] (src at least as long as dst).
func convAddTo(dst, src []float32) { convKernels.get().add(dst, src) }

func convAddGo(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d := dst[i : i+4 : i+4]
		s := src[i : i+4 : i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// swishEpilogue is the GEMM epilogue adding bias[col] (when not nil) to column col
// and then applying Swish.
func swishEpilogue(bias []float32) epilogue { return epilogue{bias: bias, swish: true} }

// biasEpilogue is the GEMM epilogue adding bias[off+col] to column col of each row
// (nothing when bias is nil): the bias goes in while the row panel is in cache, with
// the same result as adding it afterwards.
func biasEpilogue(bias []float32, off int) epilogue {
	if bias == nil {
		return epilogue{}
	}
	return epilogue{bias: bias[off:]}
}

// convAddBiasRows adds bias[0:k] to each of the rows of the rows×k matrix y.
func convAddBiasRows(y []float32, rows, k int, bias []float32) {
	if bias == nil {
		return
	}
	Parallel(rows, max(1, 4096/k), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			convAddTo(y[r*k:(r+1)*k], bias[:k])
		}
	})
}

// ---------------------------------------------------------------------------
// 1×1 stride-1 unpadded: GEMM straight over the NHWC tensors.

func pointwiseForward(p ConvParams, x, w, bias, y []float32) {
	m := p.N * p.H * p.W
	g, cg, kg := p.Groups, p.C/p.Groups, p.K/p.Groups
	for gi := 0; gi < g; gi++ {
		sgemm(false, true, m, kg, cg, 1, x[gi*cg:], p.C, w[gi*kg*cg:], cg, 0, y[gi*kg:], p.K, biasEpilogue(bias, gi*kg))
	}
}

func pointwiseBackwardData(p ConvParams, dy, w, dx []float32) {
	pointwiseBackwardDataBeta(p, dy, w, dx, 1)
}

// pointwiseBackwardDataBeta sets dx = dy·w + beta·dx (beta 1 accumulates, 0 overwrites).
func pointwiseBackwardDataBeta(p ConvParams, dy, w, dx []float32, beta float32) {
	m := p.N * p.H * p.W
	g, cg, kg := p.Groups, p.C/p.Groups, p.K/p.Groups
	for gi := 0; gi < g; gi++ {
		Sgemm(false, false, m, cg, kg, 1, dy[gi*kg:], p.K, w[gi*kg*cg:], cg, beta, dx[gi*cg:], p.C)
	}
}

func pointwiseBackwardFilter(p ConvParams, x, dy, dw []float32) {
	m := p.N * p.H * p.W
	g, cg, kg := p.Groups, p.C/p.Groups, p.K/p.Groups
	for gi := 0; gi < g; gi++ {
		Sgemm(true, false, kg, cg, m, 1, dy[gi*kg:], p.K, x[gi*cg:], p.C, 1, dw[gi*kg*cg:], cg)
	}
}
