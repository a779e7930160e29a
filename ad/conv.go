package ad

import (
	"fmt"

	"github.com/nvae-go/nvae/backend/cpu"
)

// ConvOpts are the geometry of a convolution: stride, zero padding, dilation and
// groups (1 dense, = input channels for depthwise). Zero values mean 1 for Stride,
// Dilation and Groups.
type ConvOpts struct {
	Stride, Pad, Dilation, Groups int
}

func (o ConvOpts) params(x, w []int) cpu.ConvParams {
	s, d, g := max(o.Stride, 1), max(o.Dilation, 1), max(o.Groups, 1)
	return cpu.ConvParams{N: x[0], H: x[1], W: x[2], C: x[3], K: w[0], KH: w[1], KW: w[2],
		StrideH: s, StrideW: s, PadH: o.Pad, PadW: o.Pad, DilH: d, DilW: d, Groups: g}
}

// Conv2D is a 2-D cross-correlation (PyTorch semantics) of NHWC x [N,H,W,C] with OHWI
// weights w [K,KH,KW,C/groups], plus bias [K] when b is not nil.
func (tp *Tape) Conv2D(x, w, b *Var, o ConvOpts) *Var {
	p, out, bias, work := tp.convSetup("ad.Conv2D", x, w, b, o)
	if tp.Precision() == BF16 {
		return tp.conv2DBF16(p, x, w, b, out, bias, work)
	}
	cpu.Conv2DForward(p, x.Data(), w.Data(), bias, out.Data())
	tp.record(out, func() {
		g := out.Grad.Data()
		if x.needGrad {
			flops.Add(work)
			if gx, set := tp.gradSet(x); set {
				cpu.Conv2DBackwardDataSet(p, g, w.Data(), gx)
			} else {
				cpu.Conv2DBackwardData(p, g, w.Data(), gx)
			}
		}
		if w.needGrad || (b != nil && b.needGrad) {
			flops.Add(work)
			gw, gb := tp.filterGrads(w, b)
			cpu.Conv2DBackwardFilter(p, x.Data(), g, gw, gb)
		}
	})
	return out
}

// Conv2DSwish is Swish(Conv2D(x, w, b, o)). On a tape that records gradients, or in
// bf16, it is those two operations; on a tape that records nothing it runs the fused
// kernel (cpu.Conv2DForwardSwish), which applies the activation while each block of
// the output is in cache and gives the same values, bit for bit, without the
// intermediate tensor.
func (tp *Tape) Conv2DSwish(x, w, b *Var, o ConvOpts) *Var {
	if !tp.noGrad || tp.Precision() == BF16 {
		y := tp.Conv2D(x, w, b, o)
		s := tp.Swish(y)
		tp.Free(y)
		return s
	}
	p, out, bias, _ := tp.convSetup("ad.Conv2DSwish", x, w, b, o)
	cpu.Conv2DForwardSwish(p, x.Data(), w.Data(), bias, out.Data())
	return out
}

// UpsampleConv2D is Conv2D(UpsampleNearest2x(x), w, b, o), followed by Swish when
// swish is set. On a tape that records nothing, in float32, for a depthwise
// convolution that keeps the upsampled size (stride 1, dilation 1, kernel 2·Pad+1) it
// runs cpu.DepthwiseUp2xForward: the upsampled tensor is never made and each output
// phase reads the input with its taps merged (a 5×5 kernel becomes 3×3), so the
// values agree with the two steps to rounding, not bit for bit. Otherwise it is the
// separate operations.
func (tp *Tape) UpsampleConv2D(x, w, b *Var, o ConvOpts, swish bool) *Var {
	xs, ws := x.Shape(), w.Shape()
	if tp.noGrad && tp.Precision() != BF16 && len(xs) == 4 && len(ws) == 4 {
		p := o.params([]int{xs[0], 2 * xs[1], 2 * xs[2], xs[3]}, ws)
		if cpu.DepthwiseUp2xFits(p) && ws[3] == 1 && (b == nil || b.Value.Len() == p.K) {
			out := tp.newVar([]int{p.N, p.H, p.W, p.K}, x, w, b)
			var bias []float32
			if b != nil {
				bias = b.Data()
			}
			flops.Add(int64(2 * float64(p.N*p.H*p.W*p.C) * cpu.DepthwiseUp2xTaps(p.KH, p.KW, p.PadH, p.PadW)))
			cpu.DepthwiseUp2xForward(p, x.Data(), w.Data(), bias, out.Data(), swish)
			return out
		}
	}
	u := tp.UpsampleNearest2x(x)
	var y *Var
	if swish {
		y = tp.Conv2DSwish(u, w, b, o)
	} else {
		y = tp.Conv2D(u, w, b, o)
	}
	tp.Free(u)
	return y
}

// ConvArgs are the weight, bias (nil for none) and options of one convolution of a
// chain (Tape.InvertedResidual).
type ConvArgs struct {
	W, B *Var
	Opts ConvOpts
}

// InvertedResidual is Conv2D(c3, Swish(Conv2D(c2, Up(Swish(Conv2D(c1, x)))))) where Up is
// the nearest-neighbour 2× upsampling when up is set (fused with c2 as in
// UpsampleConv2D) and nothing otherwise: the eval-mode inverted-residual op of NVAE's
// decoder cells with its batch norms folded. On a tape that records nothing, in
// float32, with c2 depthwise, it is cpu.InvertedResidualForward (the intermediate
// tensors stay in scratch that fits in L2, a few images at a time); otherwise the
// separate operations. The values are the same either way.
func (tp *Tape) InvertedResidual(x *Var, c1, c2, c3 ConvArgs, up bool) *Var {
	if tp.noGrad && tp.Precision() != BF16 {
		if out := tp.invertedResidualFused(x, c1, c2, c3, up); out != nil {
			return out
		}
	}
	y := tp.Conv2DSwish(x, c1.W, c1.B, c1.Opts)
	var z *Var
	if up {
		z = tp.UpsampleConv2D(y, c2.W, c2.B, c2.Opts, true)
	} else {
		z = tp.Conv2DSwish(y, c2.W, c2.B, c2.Opts)
	}
	tp.Free(y)
	out := tp.Conv2D(z, c3.W, c3.B, c3.Opts)
	tp.Free(z)
	return out
}

// invertedResidualFused runs InvertedResidual as one kernel, or returns nil when the
// convolutions do not qualify (then the caller runs them one by one).
func (tp *Tape) invertedResidualFused(x *Var, c1, c2, c3 ConvArgs, up bool) *Var {
	xs := x.Shape()
	if len(xs) != 4 {
		return nil
	}
	layer := func(c ConvArgs, in []int) (cpu.ConvLayer, bool) {
		ws := c.W.Shape()
		if len(ws) != 4 {
			return cpu.ConvLayer{}, false
		}
		p := c.Opts.params(in, ws)
		if p.Validate() != nil || ws[3]*p.Groups != p.C || (c.B != nil && c.B.Value.Len() != p.K) {
			return cpu.ConvLayer{}, false
		}
		l := cpu.ConvLayer{P: p, W: c.W.Data()}
		if c.B != nil {
			l.B = c.B.Data()
		}
		return l, true
	}
	l1, ok1 := layer(c1, xs)
	if !ok1 {
		return nil
	}
	h1, w1 := l1.P.OutHW()
	u := 1
	if up {
		u = 2
	}
	l2, ok2 := layer(c2, []int{xs[0], u * h1, u * w1, l1.P.K})
	if !ok2 || l2.P.Groups != l2.P.C || l2.P.K != l2.P.C || l2.P.C < 2 {
		return nil
	}
	if up && !cpu.DepthwiseUp2xFits(l2.P) {
		return nil
	}
	h2, w2 := l2.P.OutHW()
	l3, ok3 := layer(c3, []int{xs[0], h2, w2, l2.P.K})
	if !ok3 {
		return nil
	}
	h3, w3 := l3.P.OutHW()
	out := tp.newVar([]int{xs[0], h3, w3, l3.P.K}, x, c1.W, c2.W, c3.W)
	flops.Add(convFLOPs(xs[0], h1, w1, l1.P.K, l1.P.KH, l1.P.KW, l1.P.C/l1.P.Groups))
	if up {
		flops.Add(int64(2 * float64(xs[0]*h2*w2*l2.P.C) * cpu.DepthwiseUp2xTaps(l2.P.KH, l2.P.KW, l2.P.PadH, l2.P.PadW)))
	} else {
		flops.Add(convFLOPs(xs[0], h2, w2, l2.P.K, l2.P.KH, l2.P.KW, 1))
	}
	flops.Add(convFLOPs(xs[0], h3, w3, l3.P.K, l3.P.KH, l3.P.KW, l3.P.C/l3.P.Groups))
	// the working set of the separate operations (the two intermediate tensors of
	// the whole batch), which evaluation budgets its batches by; the kernel itself
	// may need less
	tp.transient(4 * int64(xs[0]) * (int64(h1*w1*l1.P.K) + int64(h2*w2*l2.P.K)))
	cpu.InvertedResidualForward(x.Data(), l1, l2, l3, up, out.Data())
	return out
}

// convSetup checks the operands of a convolution (panicking with op's name when they
// do not fit), allocates its output and counts its forward FLOPs (work).
func (tp *Tape) convSetup(op string, x, w, b *Var, o ConvOpts) (p cpu.ConvParams, out *Var, bias []float32, work int64) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("%s: input %v, weight %v", op, xs, ws))
	}
	p = o.params(xs, ws)
	if err := p.Validate(); err != nil {
		panic(op + ": " + err.Error())
	}
	if ws[3]*p.Groups != p.C || (b != nil && b.Value.Len() != p.K) {
		panic(fmt.Sprintf("%s: input %v, weight %v, groups %d", op, xs, ws, p.Groups))
	}
	oh, ow := p.OutHW()
	out = tp.newVar([]int{p.N, oh, ow, p.K}, x, w, b)
	if b != nil {
		bias = b.Data()
	}
	work = convFLOPs(p.N, oh, ow, p.K, p.KH, p.KW, ws[3])
	flops.Add(work)
	return p, out, bias, work
}

// Linear is x·wᵀ + b for x [B, in], w [out, in] and b [out] (b may be nil).
func (tp *Tape) Linear(x, w, b *Var) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		panic(fmt.Sprintf("ad.Linear: input %v, weight %v", xs, ws))
	}
	n, in, o := xs[0], xs[1], ws[0]
	out := tp.newVar([]int{n, o}, x, w, b)
	work := 2 * int64(n) * int64(o) * int64(in)
	flops.Add(work)
	if tp.Precision() == BF16 {
		return tp.linearBF16(x, w, b, out, work)
	}
	od := out.Data()
	cpu.Sgemm(false, true, n, o, in, 1, x.Data(), in, w.Data(), in, 0, od, o)
	if b != nil {
		bd := b.Data()
		for i := range od {
			od[i] += bd[i%o]
		}
	}
	tp.record(out, func() {
		g := out.Grad.Data()
		if x.needGrad {
			flops.Add(work)
			gx, set := tp.gradSet(x)
			beta := float32(1)
			if set {
				beta = 0 // a fresh gradient: the product overwrites it
			}
			cpu.Sgemm(false, false, n, in, o, 1, g, o, w.Data(), in, beta, gx, in)
		}
		if w.needGrad {
			flops.Add(work)
			cpu.Sgemm(true, false, o, in, n, 1, g, o, x.Data(), in, 1, tp.grad(w), in)
		}
		if b != nil && b.needGrad {
			gb := tp.grad(b)
			for i, v := range g {
				gb[i%o] += v
			}
		}
	})
	return out
}

// UpsampleNearest2x doubles H and W of an NHWC tensor by repetition.
func (tp *Tape) UpsampleNearest2x(x *Var) *Var {
	s := x.Shape()
	n, h, w, c := s[0], s[1], s[2], s[3]
	out := tp.newVar([]int{n, 2 * h, 2 * w, c}, x)
	cpu.UpsampleNearest2x(n, h, w, c, x.Data(), out.Data())
	tp.record(out, func() { cpu.UpsampleNearest2xBackward(n, h, w, c, out.Grad.Data(), tp.grad(x)) })
	return out
}

// UpsampleBilinear2x doubles H and W of an NHWC tensor by bilinear interpolation
// with align_corners=True.
func (tp *Tape) UpsampleBilinear2x(x *Var) *Var {
	s := x.Shape()
	n, h, w, c := s[0], s[1], s[2], s[3]
	out := tp.newVar([]int{n, 2 * h, 2 * w, c}, x)
	cpu.UpsampleBilinear2x(n, h, w, c, x.Data(), out.Data())
	tp.record(out, func() { cpu.UpsampleBilinear2xBackward(n, h, w, c, out.Grad.Data(), tp.grad(x)) })
	return out
}

// filterGrads returns the gradient buffers a convolution's filter pass writes: w's
// (scratch when w needs none, since the kernel computes both together) and b's (nil
// when b is absent or needs none).
func (tp *Tape) filterGrads(w, b *Var) (gw, gb []float32) {
	if w.needGrad {
		gw = tp.grad(w)
	} else {
		gw = make([]float32, w.Value.Len())
	}
	if b != nil && b.needGrad {
		gb = tp.grad(b)
	}
	return gw, gb
}
