package ad_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// bf16Tol is the tolerance of the bf16 gradient checks: |bf16 backward − float32
// finite difference| ≤ bf16Tol·(1 + |difference|). bf16 keeps 8 significant bits
// (relative rounding ≤ 2⁻⁹ per operand); 4·2⁻⁷ leaves room for the rounding of x,
// w and the output gradient in sums of a few dozen terms.
const bf16Tol = 4.0 / 128

// bf16 wraps a case function so that the recording run (Backward) is in BF16 while
// the finite differences evaluate the float32 op: the check compares the bf16
// gradient with the float32 function's.
func bf16(f func(tp *ad.Tape, x []*ad.Var) *ad.Var) func(tp *ad.Tape, x []*ad.Var) *ad.Var {
	return func(tp *ad.Tape, x []*ad.Var) *ad.Var {
		if !tp.NoGrad() {
			tp.SetPrecision(ad.BF16)
		}
		return f(tp, x)
	}
}

func bf16Cases(r *rand.Rand) []testutil.GradCase {
	img := func(n, h, w, c int) *tensor.Tensor { return testutil.Uniform(r, -1, 1, n, h, w, c) }
	u := func(shape ...int) *tensor.Tensor { return testutil.Uniform(r, -1, 1, shape...) }
	return []testutil.GradCase{
		{Name: "conv3x3 pad1 bias", Inputs: []*tensor.Tensor{img(2, 5, 4, 3), u(4, 3, 3, 3), u(4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], x[2], ad.ConvOpts{Pad: 1})
		}},
		{Name: "conv3x3 stride2 dil2", Inputs: []*tensor.Tensor{img(1, 7, 6, 2), u(3, 3, 3, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Stride: 2, Pad: 2, Dilation: 2})
		}},
		{Name: "conv grouped", Inputs: []*tensor.Tensor{img(2, 4, 4, 4), u(6, 3, 3, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Pad: 1, Groups: 2})
		}},
		{Name: "conv depthwise 5x5", Inputs: []*tensor.Tensor{img(2, 5, 5, 3), u(3, 5, 5, 1)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Pad: 2, Groups: 3})
		}},
		{Name: "conv1x1 bias", Inputs: []*tensor.Tensor{img(2, 3, 3, 5), u(4, 1, 1, 5), u(4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], x[2], ad.ConvOpts{})
		}},
		{Name: "conv1x1 stride2", Inputs: []*tensor.Tensor{img(2, 5, 5, 3), u(2, 1, 1, 3), u(2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], x[2], ad.ConvOpts{Stride: 2})
		}},
		{Name: "linear bias", Inputs: []*tensor.Tensor{u(3, 7), u(5, 7), u(5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Linear(x[0], x[1], x[2])
		}},
	}
}

// TestBF16Gradients checks the bf16 backward of every bf16 op against finite
// differences of the float32 op, within bf16Tol.
func TestBF16Gradients(t *testing.T) {
	for _, c := range bf16Cases(rand.New(rand.NewPCG(3, 4))) {
		t.Run(c.Name, func(t *testing.T) {
			c.F = bf16(c.F)
			c.Tol = bf16Tol
			testutil.CheckGrad(t, c)
		})
	}
}

// TestBF16Outputs checks that in BF16 the ops' outputs are bf16 values (low 16 bits
// zero), differ from the float32 outputs by no more than bf16 rounding allows, and do
// differ (so the bf16 path is the one that ran); and that the gradients differ from
// the float32 ones by a bf16-sized relative amount but are not identical.
func TestBF16Outputs(t *testing.T) {
	for _, c := range bf16Cases(rand.New(rand.NewPCG(5, 6))) {
		t.Run(c.Name, func(t *testing.T) {
			run := func(p ad.Precision) (out []float32, grads [][]float32) {
				tp := ad.NewTape()
				tp.SetPrecision(p)
				defer tp.Release()
				xs := make([]*ad.Var, len(c.Inputs))
				for i, in := range c.Inputs {
					xs[i] = ad.NewParam(in.Clone())
				}
				o := c.F(tp, xs)
				w := testutil.Uniform(rand.New(rand.NewPCG(1, 1)), -1, 1, o.Shape()...)
				tp.BackwardWith(o, w)
				out = append(out, o.Data()...)
				for _, x := range xs {
					grads = append(grads, x.Grad.Data())
				}
				return out, grads
			}
			o32, g32 := run(ad.FP32)
			o16, g16 := run(ad.BF16)
			same := true
			for i, v := range o16 {
				if math.Float32bits(v)&0xffff != 0 {
					t.Fatalf("bf16 output %d = %v is not a bf16 value", i, v)
				}
				same = same && v == o32[i]
			}
			if same {
				t.Fatalf("bf16 output equals the float32 output exactly: the bf16 path did not run")
			}
			if abs, _ := testutil.MaxErr(o16, o32, 0); abs > bf16Tol*maxAbs(o32) {
				t.Errorf("output: max |bf16 − fp32| = %g, over %g·max|fp32| = %g", abs, bf16Tol, bf16Tol*maxAbs(o32))
			}
			for k := range g32 {
				if abs, _ := testutil.MaxErr(g16[k], g32[k], 0); abs > bf16Tol*maxAbs(g32[k]) {
					t.Errorf("gradient %d: max |bf16 − fp32| = %g, over %g·max|fp32| = %g", k, abs, bf16Tol, bf16Tol*maxAbs(g32[k]))
				}
			}
		})
	}
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// cellLike is conv → BN+Swish → conv → BN → conv, compacting each convolution
// output once the batch norm reading it is recorded (as model cells do), with the
// batch-norm outputs discarded as the cells discard them.
func cellLike(tp *ad.Tape, x []*ad.Var, compact bool) *ad.Var {
	bn := func(y *ad.Var, g, b *ad.Var, swish bool) *ad.Var {
		o, _ := tp.BatchNormTrain(y, g, b, ad.BatchNormOpts{Eps: 1e-5, Swish: swish})
		if compact {
			tp.Compact(y)
		}
		return o
	}
	y1 := tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Pad: 1})
	a1 := bn(y1, x[3], x[4], true)
	y2 := tp.Conv2D(a1, x[2], nil, ad.ConvOpts{Pad: 1, Groups: 8})
	tp.Discard(a1)
	a2 := bn(y2, x[3], x[4], false)
	y3 := tp.Conv2D(a2, x[5], nil, ad.ConvOpts{})
	tp.Discard(a2)
	return y3
}

// TestCompact checks that storing convolution outputs in bf16 (Compact) halves the
// activation bytes a BF16 forward pass holds for Backward, leaves the gradients bit
// for bit as they are without it, and does nothing in FP32.
func TestCompact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	inputs := []*tensor.Tensor{
		testutil.Uniform(r, -1, 1, 4, 8, 8, 8), testutil.Uniform(r, -0.3, 0.3, 8, 3, 3, 8),
		testutil.Uniform(r, -0.3, 0.3, 8, 3, 3, 1), testutil.Uniform(r, 0.5, 1.5, 8),
		testutil.Uniform(r, -0.5, 0.5, 8), testutil.Uniform(r, -0.3, 0.3, 8, 1, 1, 8),
	}
	type result struct {
		held  int64
		grads [][]float32
	}
	run := func(p ad.Precision, compact bool) result {
		tp := ad.NewTape()
		tp.SetPrecision(p)
		defer tp.Release()
		xs := make([]*ad.Var, len(inputs))
		for i, in := range inputs {
			xs[i] = ad.NewParam(in.Clone())
		}
		// the input is a constant: what is held is what the ops saved
		xs[0] = ad.Const(inputs[0])
		o := cellLike(tp, xs, compact)
		var res result
		res.held = tp.HeldBytes() - 4*int64(o.Value.Len()) // the output is not a saved activation
		tp.BackwardWith(o, testutil.Uniform(rand.New(rand.NewPCG(2, 2)), -1, 1, o.Shape()...))
		for _, x := range xs[1:] {
			res.grads = append(res.grads, append([]float32(nil), x.Grad.Data()...))
		}
		return res
	}
	equal := func(a, b result) bool {
		for k := range a.grads {
			for i := range a.grads[k] {
				if math.Float32bits(a.grads[k][i]) != math.Float32bits(b.grads[k][i]) {
					return false
				}
			}
		}
		return true
	}
	f32, f32c := run(ad.FP32, false), run(ad.FP32, true)
	if f32.held != f32c.held || !equal(f32, f32c) {
		t.Errorf("FP32: Compact changed something (held %d → %d bytes, gradients equal: %v)", f32.held, f32c.held, equal(f32, f32c))
	}
	b16, b16c := run(ad.BF16, false), run(ad.BF16, true)
	if !equal(b16, b16c) {
		t.Errorf("BF16: gradients with Compact differ from those without")
	}
	if b16.held != f32.held {
		t.Errorf("BF16 without Compact holds %d bytes, FP32 %d: want the same", b16.held, f32.held)
	}
	// Held: the two compacted convolution outputs (4·8·8·8 values each) plus small
	// per-channel statistics. Compacted they take half.
	ratio := float64(b16c.held) / float64(f32.held)
	t.Logf("held activation bytes: fp32 %d, bf16 compacted %d (ratio %.3f)", f32.held, b16c.held, ratio)
	if ratio < 0.45 || ratio > 0.55 {
		t.Errorf("bf16 compacted / fp32 held bytes = %.3f, want about 0.5 (0.45–0.55)", ratio)
	}
}
