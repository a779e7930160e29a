package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// testdata/f1_spectral.safetensors holds, copied byte for byte from the official F1
// fixture: every conv weight (and log_weight_norm) of params_init, the recorded
// power-iteration vectors sn.{u0,v0,u,v,sigma}.NN, norm_loss, and the metadata
// sn_groups listing each group's members in stack order (see
// testdata/extract.py).

type snGroupMeta struct {
	Index   int      `json:"index"`
	Shape   [2]int   `json:"matrix_shape"`
	Members []string `json:"members_in_stack_order"`
}

// effectiveOIHW is the conv's weight as the forward pass uses it: weight-normalised
// exp(log_weight_norm)·w/(‖w‖₂ + 1e-5) with the norm over (Cin,kH,kW) per output
// channel, or the raw weight for convs without log_weight_norm.
func effectiveOIHW(t *testing.T, f *testutil.Fixture, name string) *tensor.Tensor {
	w := f.Get(t, name+".weight")
	lwn, ok := f.T[name+".log_weight_norm"]
	if !ok {
		return w
	}
	out := tensor.New(w.Shape()...)
	co := w.Shape()[0]
	n := w.Len() / co
	for o := range co {
		row := w.Data()[o*n : (o+1)*n]
		var s float32
		for _, v := range row {
			s += v * v
		}
		g := float32(math.Exp(float64(lwn.Data()[o])))
		den := float32(math.Sqrt(float64(s))) + 1e-5
		for i, v := range row {
			out.Data()[o*n+i] = g * v / den
		}
	}
	return out
}

// snFixture loads the groups, the effective weights (OIHW and OHWI, in group and
// stack order) and a draw function that replays sn.u0/sn.v0.
func snFixture(t *testing.T) (f *testutil.Fixture, groups []snGroupMeta, oihw, ohwi []*tensor.Tensor, draw func(shape ...int) *tensor.Tensor) {
	f = testutil.Load(t, "testdata/f1_spectral.safetensors")
	if err := json.Unmarshal([]byte(f.Meta["sn_groups"]), &groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, m := range g.Members {
			w := effectiveOIHW(t, f, m)
			oihw = append(oihw, w)
			ohwi = append(ohwi, tensor.NCHWToNHWC(w))
		}
	}
	calls := 0
	draw = func(shape ...int) *tensor.Tensor {
		g := groups[calls/2]
		key := fmt.Sprintf("sn.u0.%02d", g.Index)
		if calls%2 == 1 {
			key = fmt.Sprintf("sn.v0.%02d", g.Index)
		}
		calls++
		v := f.Get(t, key)
		if !tensor.SameShape(v.Shape(), shape) {
			t.Fatalf("draw %d asks for %v, fixture %s is %v", calls, shape, key, v.Shape())
		}
		return v.Clone()
	}
	return f, groups, oihw, ohwi, draw
}

func consts(ts []*tensor.Tensor) []*ad.Var {
	vs := make([]*ad.Var, len(ts))
	for i, t := range ts {
		vs[i] = ad.Const(t)
	}
	return vs
}

// TestSpectralF1 replays the first call of the official spectral_norm_parallel (40
// power iterations from the recorded u0, v0) on F1's weights.
func TestSpectralF1(t *testing.T) {
	f, groups, oihw, ohwi, draw := snFixture(t)
	sr := NewSpectralReg()
	tp := ad.NewNoGradTape()
	defer tp.Release()
	loss := sr.Loss(tp, consts(ohwi), 4, draw)
	want := f.Get(t, "norm_loss").Item()
	t.Logf("norm_loss %.6f, fixture %.6f (abs diff %.3g)", loss.Data()[0], want, math.Abs(float64(loss.Data()[0]-want)))
	if math.Abs(float64(loss.Data()[0]-want)) > 1e-5*math.Abs(float64(want)) {
		t.Errorf("norm_loss %.7g, want %.7g", loss.Data()[0], want)
	}
	state := sr.Groups()
	if len(state) != len(groups) {
		t.Fatalf("%d groups, fixture has %d", len(state), len(groups))
	}
	var eu, ev, es float64
	li := 0
	for gi, g := range groups {
		st := state[gi]
		if st.Rows != g.Shape[0] || st.Cols != g.Shape[1] {
			t.Fatalf("group %d shape %dx%d, fixture %v", gi, st.Rows, st.Cols, g.Shape)
		}
		u, v := f.Get(t, fmt.Sprintf("sn.u.%02d", g.Index)), f.Get(t, fmt.Sprintf("sn.v.%02d", g.Index))
		sigma := f.Get(t, fmt.Sprintf("sn.sigma.%02d", g.Index))
		for k := range g.Members {
			for i := range st.Rows {
				eu = max(eu, math.Abs(float64(st.U.Data()[k*st.Rows+i]-u.Data()[k*st.Rows+i])))
			}
			for j := range st.Cols {
				ev = max(ev, math.Abs(float64(st.V.Data()[k*st.Cols+j]-v.Data()[k*st.Cols+j])))
			}
			// σ from our state (v in PyTorch order) and the OIHW matrix
			w := oihw[li].Data()
			s := 0.0
			for i := range st.Rows {
				for j := range st.Cols {
					s += float64(st.U.Data()[k*st.Rows+i]) * float64(w[i*st.Cols+j]) * float64(st.V.Data()[k*st.Cols+j])
				}
			}
			es = max(es, math.Abs(s-float64(sigma.Data()[k]))/math.Abs(float64(sigma.Data()[k])))
			li++
		}
	}
	t.Logf("%d layers in %d groups: max abs u %.3g, v %.3g; max rel sigma %.3g", li, len(groups), eu, ev, es)
	if eu > 1e-4 || ev > 1e-4 || es > 1e-5 {
		t.Errorf("u %.3g v %.3g sigma %.3g", eu, ev, es)
	}
}

// refPower runs n power iterations on OIHW matrices from state (v in PyTorch
// order), in float64, returning the new state.
func refPower(st []SpectralGroup, oihw []*tensor.Tensor, n int) []SpectralGroup {
	out := make([]SpectralGroup, len(st))
	li := 0
	norm := func(x []float64) {
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		d := math.Max(math.Sqrt(s), 1e-3)
		for i := range x {
			x[i] /= d
		}
	}
	for gi, g := range st {
		m := g.U.Shape()[0]
		U, V := g.U.Clone(), g.V.Clone()
		for k := range m {
			w := oihw[li].Data()
			li++
			u, v := make([]float64, g.Rows), make([]float64, g.Cols)
			for i := range u {
				u[i] = float64(U.Data()[k*g.Rows+i])
			}
			for range n {
				clear(v)
				for i := range u {
					for j := range v {
						v[j] += u[i] * float64(w[i*g.Cols+j])
					}
				}
				norm(v)
				for i := range u {
					u[i] = 0
					for j := range v {
						u[i] += float64(w[i*g.Cols+j]) * v[j]
					}
				}
				norm(u)
			}
			for i := range u {
				U.Data()[k*g.Rows+i] = float32(u[i])
			}
			for j := range v {
				V.Data()[k*g.Cols+j] = float32(v[j])
			}
		}
		out[gi] = SpectralGroup{Rows: g.Rows, Cols: g.Cols, U: U, V: V}
	}
	return out
}

// TestSpectralSecondCall checks that a later call draws nothing and runs iters
// iterations from the stored state.
func TestSpectralSecondCall(t *testing.T) {
	_, _, oihw, ohwi, draw := snFixture(t)
	sr := NewSpectralReg()
	tp := ad.NewNoGradTape()
	defer tp.Release()
	sr.Loss(tp, consts(ohwi), 4, draw)
	before := sr.Groups()
	want := refPower(before, oihw, 4)
	sr.Loss(tp, consts(ohwi), 4, func(...int) *tensor.Tensor {
		t.Fatal("second call drew new vectors")
		return nil
	})
	var e float64
	for gi, g := range sr.Groups() {
		for i, v := range g.U.Data() {
			e = max(e, math.Abs(float64(v-want[gi].U.Data()[i])))
		}
		for i, v := range g.V.Data() {
			e = max(e, math.Abs(float64(v-want[gi].V.Data()[i])))
		}
	}
	t.Logf("second call vs 4 reference iterations: max abs %.3g", e)
	if e > 1e-5 {
		t.Errorf("second call differs from 4 iterations by %.3g", e)
	}
}

// TestSpectralIterationCounts: 10 iterations (first call, iters 1) then 10 more
// (iters 10) equal 20 iterations in one first call (iters 2), bit for bit. Mixed
// layouts with one matrix shape ([4,3,3,2] and [4,1,1,18] → [4,18]) share a group.
func TestSpectralIterationCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ws := []*tensor.Tensor{
		testutil.Uniform(r, -1, 1, 4, 3, 3, 2), testutil.Uniform(r, -1, 1, 6, 3, 1, 5), testutil.Uniform(r, -1, 1, 4, 1, 1, 18), testutil.Uniform(r, -1, 1, 3, 2),
	}
	mkDraw := func() func(...int) *tensor.Tensor {
		dr := rand.New(rand.NewPCG(5, 6))
		return func(shape ...int) *tensor.Tensor {
			x := tensor.New(shape...)
			for i := range x.Data() {
				x.Data()[i] = float32(dr.NormFloat64())
			}
			return x
		}
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	a, b := NewSpectralReg(), NewSpectralReg()
	a.Loss(tp, consts(ws), 1, mkDraw())
	la := a.Loss(tp, consts(ws), 10, nil)
	lb := b.Loss(tp, consts(ws), 2, mkDraw())
	if la.Data()[0] != lb.Data()[0] {
		t.Errorf("10+10 iterations give %v, 20 give %v", la.Data()[0], lb.Data()[0])
	}
	ga, gb := a.Groups(), b.Groups()
	if len(ga) != 3 || ga[0].U.Shape()[0] != 2 {
		t.Fatalf("grouping: %d groups, first has %v", len(ga), ga[0].U.Shape())
	}
	for i := range ga {
		for j, v := range ga[i].V.Data() {
			if v != gb[i].V.Data()[j] {
				t.Fatalf("group %d: v differs", i)
			}
		}
	}
	// against the float64 reference on OIHW matrices from the same initial vectors
	// (a call with 0 iterations leaves the normalised draws)
	c := NewSpectralReg()
	c.Loss(tp, consts(ws), 0, mkDraw())
	var oihw []*tensor.Tensor
	for _, i := range []int{0, 2, 1, 3} { // group order: the two [4,18], then [6,15], then [3,2]
		w := ws[i]
		if w.Rank() == 4 {
			w = tensor.NHWCToNCHW(w)
		}
		oihw = append(oihw, w)
	}
	ref := refPower(c.Groups(), oihw, 20)
	var e float64
	for i := range gb {
		for j, v := range gb[i].U.Data() {
			e = max(e, math.Abs(float64(v-ref[i].U.Data()[j])))
		}
		for j, v := range gb[i].V.Data() {
			e = max(e, math.Abs(float64(v-ref[i].V.Data()[j])))
		}
	}
	if e > 1e-5 {
		t.Errorf("mixed layouts: state differs from the OIHW reference by %.3g", e)
	}
}

// TestSpectralGradient checks dLoss/dW = u vᵀ (u, v fixed: iters = 0 after the
// state exists) by finite differences.
func TestSpectralGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ws := []*tensor.Tensor{testutil.Uniform(r, -1, 1, 3, 3, 3, 2), testutil.Uniform(r, -1, 1, 3, 1, 1, 18), testutil.Uniform(r, -1, 1, 5, 1, 1, 4)}
	sr := NewSpectralReg()
	dr := rand.New(rand.NewPCG(7, 8))
	tp := ad.NewNoGradTape()
	sr.Loss(tp, consts(ws), 4, func(shape ...int) *tensor.Tensor {
		x := tensor.New(shape...)
		for i := range x.Data() {
			x.Data()[i] = float32(dr.NormFloat64())
		}
		return x
	})
	tp.Release()
	testutil.CheckGrad(t, testutil.GradCase{Name: "spectral", Inputs: ws, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
		return sr.Loss(tp, x, 0, nil)
	}})
}

func TestSpectralSetGroupsResumesExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mk := func(shape ...int) *ad.Var {
		w := tensor.New(shape...)
		for i := range w.Data() {
			w.Data()[i] = float32(r.NormFloat64())
		}
		return ad.Const(w)
	}
	ws := []*ad.Var{mk(6, 3, 3, 2), mk(6, 3, 3, 2), mk(4, 1, 1, 5)}
	draw := func(shape ...int) *tensor.Tensor {
		t := tensor.New(shape...)
		for i := range t.Data() {
			t.Data()[i] = float32(r.NormFloat64())
		}
		return t
	}
	a := NewSpectralReg()
	tp := ad.NewNoGradTape()
	defer tp.Release()
	a.Loss(tp, ws, 4, draw)
	b := NewSpectralReg()
	if err := b.SetGroups(a.Groups()); err != nil {
		t.Fatal(err)
	}
	la := a.Loss(tp, ws, 4, nil).Value.Item()
	lb := b.Loss(tp, ws, 4, nil).Value.Item()
	if la != lb {
		t.Fatalf("restored state gives %v, original %v", lb, la)
	}
	if err := b.SetGroups([]SpectralGroup{{Rows: 2, Cols: 3, U: tensor.New(1, 3), V: tensor.New(1, 3)}}); err == nil {
		t.Fatal("inconsistent shapes accepted")
	}
}
