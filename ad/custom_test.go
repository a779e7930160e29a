package ad_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// customProd is a fused a·exp(b) written with Custom, checked against finite
// differences and against the same expression built from ordinary ops.
func customProd(tp *ad.Tape, a, b *ad.Var) *ad.Var {
	out := tp.Custom(a.Shape(), []*ad.Var{a, b}, func(g []float32, grad func(int) []float32) {
		ga, gb := grad(0), grad(1)
		for i, gi := range g {
			e := float32(math.Exp(float64(b.Data()[i])))
			if ga != nil {
				ga[i] += gi * e
			}
			if gb != nil {
				gb[i] += gi * a.Data()[i] * e
			}
		}
	})
	for i := range out.Data() {
		out.Data()[i] = a.Data()[i] * float32(math.Exp(float64(b.Data()[i])))
	}
	return out
}

func TestCustomGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	testutil.CheckGrad(t, testutil.GradCase{
		Name:   "custom a·exp(b)",
		Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 3, 4), testutil.Uniform(r, -1, 1, 3, 4)},
		F:      func(tp *ad.Tape, x []*ad.Var) *ad.Var { return customProd(tp, x[0], x[1]) },
	})
	// one input constant: its gradient slot is nil and the other still flows.
	c := testutil.Uniform(r, -1, 1, 5)
	testutil.CheckGrad(t, testutil.GradCase{
		Name:   "custom with a constant input",
		Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 5)},
		F:      func(tp *ad.Tape, x []*ad.Var) *ad.Var { return customProd(tp, ad.Const(c), x[0]) },
	})
}

func TestCustomNoGradTape(t *testing.T) {
	tp := ad.NewNoGradTape()
	defer tp.Release()
	a := ad.NewParam(tensor.FromData([]float32{1, 2}, 2))
	called := false
	out := tp.Custom([]int{2}, []*ad.Var{a}, func([]float32, func(int) []float32) { called = true })
	if out.NeedsGrad() {
		t.Fatal("result on a no-grad tape needs a gradient")
	}
	if called {
		t.Fatal("backward ran during the forward pass")
	}
}
