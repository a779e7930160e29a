package dist

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// TestNormalGradients checks every fused Normal op against finite differences,
// through NewNormal's soft clamps (raw values span the saturated range).
func TestNormalGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	raw := func() *tensor.Tensor { return testutil.Uniform(r, -7, 7, 2, 3, 2, 4) }
	small := func() *tensor.Tensor { return testutil.Uniform(r, -2, 2, 2, 3, 2, 4) }
	eps := testutil.Uniform(r, -2, 2, 2, 3, 2, 4)
	cases := []testutil.GradCase{
		{Name: "NewNormal mu and sigma", Inputs: []*tensor.Tensor{raw(), raw()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			n := NewNormal(tp, x[0], x[1], 1)
			return tp.Add(n.Mu, tp.Scale(n.Sigma, 0.3))
		}},
		{Name: "NewNormal temp 0.7", Inputs: []*tensor.Tensor{small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			n := NewNormal(tp, x[0], x[1], 0.7)
			return tp.Add(n.Mu, n.Sigma)
		}},
		{Name: "Sample", Inputs: []*tensor.Tensor{small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return NewNormal(tp, x[0], x[1], 1).Sample(tp, eps)
		}},
		{Name: "LogP (z, mu, logsig)", Inputs: []*tensor.Tensor{small(), small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return NewNormal(tp, x[1], x[2], 1).LogP(tp, x[0])
		}},
		{Name: "LogP of own sample", Inputs: []*tensor.Tensor{small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			n := NewNormal(tp, x[0], x[1], 1)
			return n.LogP(tp, n.Sample(tp, eps))
		}},
		{Name: "KL(q‖p) all four", Inputs: []*tensor.Tensor{small(), small(), small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			q := NewNormal(tp, x[0], x[1], 1)
			p := NewNormal(tp, x[2], x[3], 1)
			return q.KL(tp, p)
		}},
		{Name: "KL residual posterior vs prior", Inputs: []*tensor.Tensor{small(), small(), small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			p := NewNormal(tp, x[2], x[3], 1)
			q := NewNormal(tp, tp.Add(x[0], x[2]), tp.Add(x[1], x[3]), 1)
			return q.KL(tp, p)
		}},
		{Name: "KL to StdNormal", Inputs: []*tensor.Tensor{small(), small()}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			q := NewNormal(tp, x[0], x[1], 1)
			return q.KL(tp, StdNormal(tp, 1, x[0].Shape()...))
		}},
	}
	for _, c := range cases {
		testutil.CheckGrad(t, c)
	}
}

// TestDecoderGradients checks Bernoulli and Normal-decoder log-likelihoods.
func TestDecoderGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	bin := tensor.New(2, 3, 4, 1)
	for i := range bin.Data() {
		bin.Data()[i] = float32(r.IntN(2))
	}
	img := testutil.Uniform(r, 0, 1, 2, 3, 4, 3)
	testutil.CheckGrad(t, testutil.GradCase{Name: "Bernoulli", Inputs: []*tensor.Tensor{testutil.Uniform(r, -25, 25, 2, 3, 4, 1)},
		F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return NewBernoulli(x[0]).LogProb(tp, bin) }})
	testutil.CheckGrad(t, testutil.GradCase{Name: "Bernoulli soft targets", Inputs: []*tensor.Tensor{testutil.Uniform(r, -4, 4, 2, 3, 4, 1)},
		F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return NewBernoulli(x[0]).LogProb(tp, testutil.Uniform(rand.New(rand.NewPCG(9, 9)), 0, 1, 2, 3, 4, 1))
		}})
	testutil.CheckGrad(t, testutil.GradCase{Name: "Normal decoder", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 2, 3, 4, 6)},
		F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return NewNormalDecoder(tp, x[0]).LogProb(tp, img) }})
}

// TestKLBalanceGradient checks the gradient of the balanced KL: with kl_coeff ≥ 1 it
// is the plain sum (finite differences apply); below 1 the coefficients are
// detached, so ∂/∂K[b,l] is exactly kl_coeff·c_l times the output gradient.
func TestKLBalanceGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alpha := []float32{1, 2, 2}
	in := func() []*tensor.Tensor {
		return []*tensor.Tensor{testutil.Uniform(r, 0, 30, 4), testutil.Uniform(r, -1, 30, 4), testutil.Uniform(r, 0, 30, 4)}
	}
	testutil.CheckGrad(t, testutil.GradCase{Name: "KLBalance kl_coeff 1", Inputs: in(), F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
		b, _, _ := KLBalance(tp, x, 1, alpha)
		return b
	}})
	for _, klc := range []float32{0.5, 1e-4} {
		xs := in()
		params := make([]*ad.Var, len(xs))
		for i, x := range xs {
			params[i] = ad.NewParam(x)
		}
		tp := ad.NewTape()
		bal, coeffs, _ := KLBalance(tp, params, klc, alpha)
		g := tensor.FromData([]float32{0.3, -1, 2, 0.5}, 4)
		tp.BackwardWith(bal, g)
		for l, p := range params {
			for b, v := range p.Grad.Data() {
				if want := g.Data()[b] * klc * coeffs[l]; v != want {
					t.Errorf("kl_coeff %g: dK[%d,%d] = %g, want %g", klc, b, l, v, want)
				}
			}
		}
		tp.Release()
		var s float32
		for _, c := range coeffs {
			s += c
		}
		if d := s - float32(len(coeffs)); d > 1e-5 || d < -1e-5 {
			t.Errorf("coefficients %v do not average 1", coeffs)
		}
	}
}
