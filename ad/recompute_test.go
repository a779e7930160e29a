package ad_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// TestRecomputeMatchesPlain compares a segment (input x, parameter w, BN with running
// statistics) run plainly and as a recomputed segment: same output, bit-identical gradients of
// the input and the parameters, and running statistics updated once.
func TestRecomputeMatchesPlain(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xv := testutil.Uniform(r, -1, 1, 2, 5, 5, 3)
	wv := testutil.Uniform(r, -1, 1, 4, 3, 3, 3)
	gv := testutil.Uniform(r, -1, 1, 2, 5, 5, 4)
	run := func(ckpt bool) (out, gx, gw, gg, rm, rv []float32) {
		x, w := ad.NewParam(xv.Clone()), ad.NewParam(wv.Clone())
		gamma, beta := ad.NewParam(testutil.Uniform(rand.New(rand.NewPCG(3, 4)), 0.5, 1.5, 4)), ad.NewParam(tensor.New(4))
		runMean, runVar := tensor.New(4), tensor.New(4)
		runVar.Fill(1)
		seg := func(tp *ad.Tape, in []*ad.Var) *ad.Var {
			h := tp.Conv2D(in[0], w, nil, ad.ConvOpts{Pad: 1})
			h = trackedBN(tp, h, gamma, beta, runMean, runVar)
			return tp.Add(tp.Mul(h, h), tp.Sum(in[0], true, 3))
		}
		tp := ad.NewTape()
		pre := tp.Scale(x, 2) // x reaches the segment through a recorded op
		var o *ad.Var
		if ckpt {
			o = tp.Recompute(seg, pre)
		} else {
			o = seg(tp, []*ad.Var{pre})
		}
		out = append([]float32(nil), o.Data()...)
		tp.BackwardWith(o, gv)
		tp.Release()
		return out, x.Grad.Data(), w.Grad.Data(), gamma.Grad.Data(), runMean.Data(), runVar.Data()
	}
	a := make([][]float32, 6)
	b := make([][]float32, 6)
	a[0], a[1], a[2], a[3], a[4], a[5] = run(false)
	b[0], b[1], b[2], b[3], b[4], b[5] = run(true)
	names := []string{"output", "input gradient", "weight gradient", "gamma gradient", "running mean", "running variance"}
	for k := range a {
		for i := range a[k] {
			if a[k][i] != b[k][i] {
				t.Errorf("%s[%d] = %v with recomputation, %v without", names[k], i, b[k][i], a[k][i])
				break
			}
		}
	}
}

// trackedBN is a training-mode BN+Swish that keeps running statistics (momentum 0.1)
// the way nn.BN does: once per forward pass, not when a segment is recomputed.
func trackedBN(tp *ad.Tape, x, gamma, beta *ad.Var, runMean, runVar *tensor.Tensor) *ad.Var {
	y, st := tp.BatchNormTrain(x, gamma, beta, ad.BatchNormOpts{Eps: 1e-5, Swish: true})
	if !tp.Recomputing() {
		rm, rv := runMean.Data(), runVar.Data()
		m := float32(0.1)
		unbias := float32(st.Count) / float32(st.Count-1)
		for j := range rm {
			rm[j] = (1-m)*rm[j] + m*st.Mean[j]
			rv[j] = (1-m)*rv[j] + m*st.Var[j]*unbias
		}
	}
	return y
}

// TestRecomputeNoGrad checks that a tape recording nothing runs the segment directly.
func TestRecomputeNoGrad(t *testing.T) {
	tp := ad.NewNoGradTape()
	defer tp.Release()
	x := ad.Const(tensor.FromData([]float32{1, 2, 3}, 3))
	calls := 0
	o := tp.Recompute(func(tp *ad.Tape, in []*ad.Var) *ad.Var {
		calls++
		if tp.Recomputing() {
			t.Error("no-grad tape reports recomputing")
		}
		return tp.Scale(in[0], 3)
	}, x)
	if calls != 1 || o.Data()[2] != 9 {
		t.Errorf("calls %d, result %v", calls, o.Data())
	}
}

// TestDiscardRecomputes checks that a discarded batch-norm output is freed in the
// forward pass and recomputed for the convolution reading it, giving the same
// gradients (over two backward passes on one tape) as keeping it.
func TestDiscardRecomputes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xv := testutil.Uniform(r, -1, 1, 2, 4, 4, 3)
	wv := testutil.Uniform(r, -1, 1, 5, 3, 3, 3)
	gv := testutil.Uniform(r, -1, 1, 2, 4, 4, 5)
	run := func(discard bool) [][]float32 {
		x, w := ad.NewParam(xv.Clone()), ad.NewParam(wv.Clone())
		gamma, beta := ad.NewParam(testutil.Uniform(rand.New(rand.NewPCG(3, 4)), 0.5, 1.5, 3)), ad.NewParam(tensor.New(3))
		tp := ad.NewTape()
		h, _ := tp.BatchNormTrain(tp.Scale(x, 1.5), gamma, beta, ad.BatchNormOpts{Eps: 1e-5, Swish: true})
		y := tp.Conv2D(h, w, nil, ad.ConvOpts{Pad: 1})
		if discard {
			tp.Discard(h)
			if h.Data() != nil {
				t.Error("discarded value still holds storage")
			}
		}
		out := tp.Mul(y, y)
		var res [][]float32
		for pass := 0; pass < 2; pass++ {
			tp.BackwardWith(out, gv)
			res = append(res, append([]float32(nil), x.Grad.Data()...), append([]float32(nil), w.Grad.Data()...),
				append([]float32(nil), gamma.Grad.Data()...))
		}
		tp.Release()
		return res
	}
	a, b := run(false), run(true)
	for k := range a {
		for i := range a[k] {
			if a[k][i] != b[k][i] {
				t.Errorf("gradient %d[%d] = %v with Discard, %v without", k, i, b[k][i], a[k][i])
				break
			}
		}
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	h, _ := tp.BatchNormTrain(ad.Const(xv), ad.Const(tensor.FromData([]float32{1, 1, 1}, 3)), ad.Const(tensor.New(3)),
		ad.BatchNormOpts{Eps: 1e-5})
	tp.Discard(h)
	if h.Data() != nil {
		t.Error("no-grad tape kept a discarded value")
	}
}

// TestMemo checks that a memoised value is computed once per tape, shared with the
// segments recomputed on it, dropped by Forget and forgotten by Release.
func TestMemo(t *testing.T) {
	calls := 0
	w := ad.NewParam(tensor.FromData([]float32{1, 2}, 2))
	key := new(int)
	tp := ad.NewTape()
	get := func(tp *ad.Tape) *ad.Var {
		return tp.Memo(key, func() *ad.Var { calls++; return tp.Scale(w, 2) })
	}
	first := get(tp)
	if get(tp) != first || calls != 1 {
		t.Fatalf("second lookup: %d computations", calls)
	}
	x := ad.NewParam(tensor.FromData([]float32{3, 4}, 2))
	out := tp.Recompute(func(sub *ad.Tape, in []*ad.Var) *ad.Var {
		if get(sub) != first {
			t.Error("a recomputed segment did not see the tape's value")
		}
		return sub.Mul(in[0], get(sub))
	}, x)
	tp.Backward(tp.Sum(out, false))
	if calls != 1 {
		t.Errorf("%d computations with a recomputed segment, want 1", calls)
	}
	if g := w.Grad.Data(); g[0] != 6 || g[1] != 8 {
		t.Errorf("gradient through the memoised value %v, want [6 8]", g)
	}
	tp.Forget(key)
	if get(tp) == first || calls != 2 {
		t.Error("Forget kept the value")
	}
	second := get(tp)
	tp.Release()
	if get(tp) == second || calls != 3 {
		t.Error("Release kept the value")
	}
	tp.Release()
}
