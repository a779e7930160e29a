package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// randT returns a tensor of uniform values in [lo, hi).
func randT(r *rand.Rand, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

// gradCase is a finite-difference check: f builds a result from the inputs; the
// gradient of Σ w·f (w random) from Backward is compared with central differences
// of the same sum evaluated in float64.
type gradCase struct {
	name   string
	inputs []*tensor.Tensor
	f      func(tp *ad.Tape, x []*ad.Var) *ad.Var
	eps    float64 // step (default 1e-2)
	tol    float64 // |ana − num| ≤ tol·(1 + |num|) (default 2e-3)
}

func runGradCase(t *testing.T, c gradCase) {
	t.Helper()
	eps, tol := c.eps, c.tol
	if eps == 0 {
		eps = 1e-2
	}
	if tol == 0 {
		tol = 2e-3
	}
	rng := rand.New(rand.NewPCG(7, 11))
	params := make([]*ad.Var, len(c.inputs))
	for i, in := range c.inputs {
		params[i] = ad.NewParam(in)
	}
	tp := ad.NewTape()
	out := c.f(tp, params)
	weights := randT(rng, -1, 1, out.Shape()...)
	tp.BackwardWith(out, weights)
	tp.Release()
	eval := func() float64 {
		tp := ad.NewNoGradTape()
		defer tp.Release()
		xs := make([]*ad.Var, len(c.inputs))
		for i, in := range c.inputs {
			xs[i] = ad.Const(in)
		}
		o := c.f(tp, xs)
		s := 0.0
		for i, v := range o.Data() {
			s += float64(v) * float64(weights.Data()[i])
		}
		return s
	}
	for k, in := range c.inputs {
		d := in.Data()
		for i := range d {
			orig := d[i]
			d[i] = orig + float32(eps)
			fp := eval()
			d[i] = orig - float32(eps)
			fm := eval()
			d[i] = orig
			h := float64(orig+float32(eps)) - float64(orig-float32(eps))
			num := (fp - fm) / h
			ana := float64(params[k].Grad.Data()[i])
			if math.Abs(ana-num) > tol*(1+math.Abs(num)) || math.IsNaN(ana) {
				t.Errorf("%s: input %d element %d: backward %.6g, finite difference %.6g", c.name, k, i, ana, num)
				return
			}
		}
	}
}
