package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

func randParam(r *rand.Rand, shape ...int) *ad.Var {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(r.NormFloat64())
	}
	return ad.NewParam(t)
}

// valueAndGrads runs f on a fresh tape and returns its value and the gradients of the
// params for the output gradient r (a fixed random tensor, with −0 at every 17th
// element when negZeros is set).
func valueAndGrads(params []*ad.Var, f func(tp *ad.Tape) *ad.Var, negZeros bool) ([]float32, [][]float32) {
	for _, p := range params {
		p.ZeroGrad()
	}
	tp := ad.NewTape()
	defer tp.Release()
	out := f(tp)
	g := tensor.New(out.Shape()...)
	rr := rand.New(rand.NewPCG(3, 3))
	for i := range g.Data() {
		g.Data()[i] = float32(rr.NormFloat64())
		if negZeros && i%17 == 0 {
			g.Data()[i] = float32(math.Copysign(0, -1))
		}
	}
	tp.BackwardWith(out, g)
	val := append([]float32(nil), out.Data()...)
	var gs [][]float32
	for _, p := range params {
		gs = append(gs, append([]float32(nil), p.Grad.Data()...))
	}
	return val, gs
}

// fusedCase compares a fused op with its composition of ad ops: values, and gradients of
// Σ out·r for a random r.
func fusedCase(t *testing.T, name string, params []*ad.Var, fused, ref func(tp *ad.Tape) *ad.Var) {
	t.Helper()
	v1, g1 := valueAndGrads(params, fused, false)
	v2, g2 := valueAndGrads(params, ref, false)
	cmp := func(what string, a, b []float32) {
		var d, s float64
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
			s = math.Max(s, math.Abs(float64(b[i])))
		}
		if d > 1e-5*math.Max(s, 1) {
			t.Errorf("%s %s: max diff %g (scale %g)", name, what, d, s)
		}
	}
	cmp("value", v1, v2)
	for i := range g1 {
		cmp("grad", g1[i], g2[i])
	}
}

func TestFusedOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w := randParam(r, 6, 3, 3, 4)
	lwn := randParam(r, 6, 1, 1, 1)
	wnRef := func(mask *tensor.Tensor) func(tp *ad.Tape) *ad.Var {
		return func(tp *ad.Tape) *ad.Var {
			x := w
			if mask != nil {
				x = tp.Mul(x, ad.Const(mask))
			}
			w2 := tp.Reshape(x, 6, -1)
			n := tp.Sqrt(tp.Sum(tp.Square(w2), true, 1))
			s := tp.Div(tp.Exp(tp.Reshape(lwn, 6, 1)), tp.AddScalar(n, 1e-5))
			return tp.Reshape(tp.Mul(w2, s), 6, 3, 3, 4)
		}
	}
	fusedCase(t, "WeightNorm", []*ad.Var{w, lwn}, func(tp *ad.Tape) *ad.Var { return WeightNorm(tp, w, lwn, nil) }, wnRef(nil))
	mask := ARMask(4, 6, 3, 1, true, true)
	fusedCase(t, "WeightNorm masked", []*ad.Var{w, lwn}, func(tp *ad.Tape) *ad.Var { return WeightNorm(tp, w, lwn, mask) }, wnRef(mask))

	x := randParam(r, 2, 3, 5, 7)
	v := randParam(r, 2, 7)
	fusedCase(t, "ChannelScale", []*ad.Var{x, v}, func(tp *ad.Tape) *ad.Var { return ChannelScale(tp, x, v) },
		func(tp *ad.Tape) *ad.Var { return tp.Mul(x, tp.Reshape(v, 2, 1, 1, 7)) })
	y := randParam(r, 2, 3, 5, 7)
	fusedCase(t, "AddScaled", []*ad.Var{x, y}, func(tp *ad.Tape) *ad.Var { return AddScaled(tp, x, y, 0.1) },
		func(tp *ad.Tape) *ad.Var { return tp.Add(x, tp.Scale(y, 0.1)) })
	sk := randParam(r, 2, 3, 5, 7)
	fusedCase(t, "ChannelScaleAdd", []*ad.Var{sk, x, v}, func(tp *ad.Tape) *ad.Var { return ChannelScaleAdd(tp, sk, x, v, 0.1) },
		func(tp *ad.Tape) *ad.Var { return tp.Add(sk, tp.Scale(tp.Mul(x, tp.Reshape(v, 2, 1, 1, 7)), 0.1)) })
	for _, off := range [][2]int{{0, 0}, {1, 1}, {0, 1}, {1, 0}} {
		a := randParam(r, 2, 6, 4, 3)
		fusedCase(t, "Subsample2", []*ad.Var{a}, func(tp *ad.Tape) *ad.Var { return Subsample2(tp, a, off[0], off[1]) },
			func(tp *ad.Tape) *ad.Var {
				// the official construction: a stride-2 1×1 identity conv on the shifted slice
				s := tp.Slice(tp.Slice(a, 1, off[0], 6), 2, off[1], 4)
				id := tensor.New(3, 1, 1, 3)
				for k := 0; k < 3; k++ {
					id.Data()[k*3+k] = 1
				}
				return tp.Conv2D(s, ad.Const(id), nil, ad.ConvOpts{Stride: 2})
			})
	}
	p := randParam(r, 1, 4, 4, 3)
	fusedCase(t, "BroadcastBatch", []*ad.Var{p}, func(tp *ad.Tape) *ad.Var { return BroadcastBatch(tp, p, 3) },
		func(tp *ad.Tape) *ad.Var { return tp.BroadcastTo(p, 3, 4, 4, 3) })
}

// TestChannelScaleAddSameBits: ChannelScaleAdd gives the values and the gradients of
// AddScaled(a, ChannelScale(x, v), k) bit for bit, for channel counts that are whole
// vectors and not, and images larger than one gate span.
func TestChannelScaleAddSameBits(t *testing.T) {
	for _, shape := range [][4]int{{2, 3, 5, 7}, {3, 4, 5, 24}, {2, 40, 40, 16}, {1, 1, 1, 1}} {
		r := rand.New(rand.NewPCG(4, uint64(shape[3])))
		a := randParam(r, shape[:]...)
		x := randParam(r, shape[:]...)
		v := randParam(r, shape[0], shape[3])
		params := []*ad.Var{a, x, v}
		v1, g1 := valueAndGrads(params, func(tp *ad.Tape) *ad.Var { return ChannelScaleAdd(tp, a, x, v, 0.1) }, true)
		v2, g2 := valueAndGrads(params, func(tp *ad.Tape) *ad.Var { return AddScaled(tp, a, ChannelScale(tp, x, v), 0.1) }, true)
		same := func(what string, p, q []float32) {
			for i := range p {
				if math.Float32bits(p[i]) != math.Float32bits(q[i]) {
					t.Fatalf("shape %v %s[%d]: %v, want %v", shape, what, i, p[i], q[i])
				}
			}
		}
		same("value", v1, v2)
		for i, name := range []string{"grad a", "grad x", "grad v"} {
			same(name, g1[i], g2[i])
		}
	}
}
