// Package testutil holds what several packages' tests share: reading parity fixtures
// (safetensors files of float32 tensors) and the finite-difference gradient check every
// differentiable op is tested with.
package testutil

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
	"github.com/nvae-go/nvae/tensorfile"
)

// Fixture is a safetensors file read for a test: its tensors (in the file's layout)
// and its metadata.
type Fixture struct {
	T    map[string]*tensor.Tensor
	Meta map[string]string
}

// Load reads a fixture or fails the test.
func Load(t testing.TB, path string) *Fixture {
	t.Helper()
	f, err := tensorfile.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	fx := &Fixture{T: map[string]*tensor.Tensor{}, Meta: f.Metadata}
	if fx.Meta == nil {
		fx.Meta = map[string]string{}
	}
	for _, n := range f.Tensors {
		fx.T[n.Name] = n.Tensor()
	}
	return fx
}

// Get returns a tensor or fails the test.
func (f *Fixture) Get(t testing.TB, key string) *tensor.Tensor {
	t.Helper()
	v, ok := f.T[key]
	if !ok {
		t.Fatalf("fixture has no %q", key)
	}
	return v
}

// NHWC returns an NCHW fixture tensor converted to NHWC.
func (f *Fixture) NHWC(t testing.TB, key string) *tensor.Tensor {
	t.Helper()
	return tensor.NCHWToNHWC(f.Get(t, key))
}

// MaxErr returns the largest |a−b| and the largest |a−b|/(|b|+floor).
func MaxErr(a, b []float32, floor float64) (abs, rel float64) {
	if len(a) != len(b) {
		return math.Inf(1), math.Inf(1)
	}
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		abs = max(abs, d)
		rel = max(rel, d/(math.Abs(float64(b[i]))+floor))
	}
	return abs, rel
}

// Uniform returns a tensor of uniform values in [lo, hi).
func Uniform(r *rand.Rand, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

// GradCase is one finite-difference gradient check: F builds a result from the
// inputs on a tape; d(Σ w·F)/d(input) from Backward (w random) is compared with
// central differences of the same sum evaluated in float64.
type GradCase struct {
	Name   string
	Inputs []*tensor.Tensor
	F      func(tp *ad.Tape, x []*ad.Var) *ad.Var
	Eps    float64 // finite-difference step (default 1e-2)
	Tol    float64 // |backward − difference| ≤ Tol·(1 + |difference|) (default 2e-3)
}

// CheckGrad runs a GradCase, reporting the first element that disagrees.
func CheckGrad(t testing.TB, c GradCase) {
	t.Helper()
	eps, tol := c.Eps, c.Tol
	if eps == 0 {
		eps = 1e-2
	}
	if tol == 0 {
		tol = 2e-3
	}
	rng := rand.New(rand.NewPCG(7, 11))
	params := make([]*ad.Var, len(c.Inputs))
	for i, in := range c.Inputs {
		params[i] = ad.NewParam(in)
	}
	tp := ad.NewTape()
	out := c.F(tp, params)
	weights := Uniform(rng, -1, 1, out.Shape()...)
	tp.BackwardWith(out, weights)
	tp.Release()
	eval := func() float64 {
		tp := ad.NewNoGradTape()
		defer tp.Release()
		xs := make([]*ad.Var, len(c.Inputs))
		for i, in := range c.Inputs {
			xs[i] = ad.Const(in)
		}
		o := c.F(tp, xs)
		s := 0.0
		for i, v := range o.Data() {
			s += float64(v) * float64(weights.Data()[i])
		}
		return s
	}
	for k, in := range c.Inputs {
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
				t.Errorf("%s: input %d element %d: backward %.6g, finite difference %.6g", c.Name, k, i, ana, num)
				return
			}
		}
	}
}
