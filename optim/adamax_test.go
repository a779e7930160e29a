package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/backend/cpu"
)

// randParams returns parameters and gradients of the given sizes.
func randParams(r *rand.Rand, sizes []int, scale float64) [][]float32 {
	out := make([][]float32, len(sizes))
	for i, n := range sizes {
		out[i] = make([]float32, n)
		for j := range out[i] {
			out[i][j] = float32(r.NormFloat64() * scale)
		}
	}
	return out
}

func clone2(x [][]float32) [][]float32 {
	out := make([][]float32, len(x))
	for i := range x {
		if x[i] != nil {
			out[i] = append([]float32(nil), x[i]...)
		}
	}
	return out
}

func newAdamax(t *testing.T, sizes []int, wd float64) *Adamax {
	t.Helper()
	o, err := NewAdamax(sizes, wd)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestAdamaxMatchesFloat64Reference runs a few steps against the formulas of docs/model.md#adamax
// evaluated in float64.
func TestAdamaxMatchesFloat64Reference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []int{7, 1, 300, 0, 64}
	params := randParams(r, sizes, 1)
	o := newAdamax(t, sizes, 3e-4)

	// float64 reference state
	p64 := make([][]float64, len(sizes))
	m64 := make([][]float64, len(sizes))
	u64 := make([][]float64, len(sizes))
	mAbs := make([][]float64, len(sizes)) // the same average of |g|: the scale of m's round-off
	for i, n := range sizes {
		p64[i] = make([]float64, n)
		m64[i] = make([]float64, n)
		u64[i] = make([]float64, n)
		mAbs[i] = make([]float64, n)
		for j := range p64[i] {
			p64[i][j] = float64(params[i][j])
		}
	}
	lrs := []float64{1e-2, 5e-3, 1e-2, 2e-3, 1e-2, 1e-2}
	for k, lr := range lrs {
		// Gradients of widely varying magnitude, so that both branches of the max occur.
		grads := randParams(r, sizes, math.Pow(10, float64(k%3-2)))
		o.Update(params, grads, lr)
		step := float64(k + 1)
		clr := lr / (1 - math.Pow(0.9, step))
		for i := range sizes {
			for j := range p64[i] {
				g := float64(grads[i][j]) + 3e-4*p64[i][j]
				m64[i][j] = 0.9*m64[i][j] + 0.1*g
				mAbs[i][j] = 0.9*mAbs[i][j] + 0.1*math.Abs(g)
				u64[i][j] = math.Max(0.999*u64[i][j], math.Abs(g)+1e-3)
				p64[i][j] -= clr * m64[i][j] / u64[i][j]
			}
		}
	}
	if o.Step != int64(len(lrs)) {
		t.Fatalf("Step = %d, want %d", o.Step, len(lrs))
	}
	st := o.State()
	for i := range sizes {
		for j := range p64[i] {
			if d := math.Abs(float64(params[i][j]) - p64[i][j]); d > 2e-6*(1+math.Abs(p64[i][j])) {
				t.Fatalf("param %d[%d] = %v, float64 reference %v", i, j, params[i][j], p64[i][j])
			}
			if d := math.Abs(float64(st.ExpAvg[i][j]) - m64[i][j]); d > 1e-6*mAbs[i][j] {
				t.Fatalf("m %d[%d] = %v, float64 reference %v", i, j, st.ExpAvg[i][j], m64[i][j])
			}
			if d := math.Abs(float64(st.ExpInf[i][j]) - u64[i][j]); d > 1e-5*u64[i][j] {
				t.Fatalf("u %d[%d] = %v, float64 reference %v", i, j, st.ExpInf[i][j], u64[i][j])
			}
		}
	}
}

// TestAdamaxKnownValues checks hand-computed numbers.
//
// Step 1 (p = 1, g = 0.5, lr = 0.01, no weight decay): m = 0.1·0.5 = 0.05,
// u = max(0, 0.5 + 0.001) = 0.501, clr = 0.01/(1 − 0.9) = 0.1,
// p = 1 − 0.1·0.05/0.501 = 0.99001996008.
// Step 2 (g = −0.25): m = 0.9·0.05 − 0.1·0.25 = 0.02, u = max(0.999·0.501, 0.251) =
// 0.500499, clr = 0.01/(1 − 0.81) = 0.0526315789, p = 0.99001996008 −
// 0.0526315789·0.02/0.500499 = 0.98791679588.
func TestAdamaxKnownValues(t *testing.T) {
	o := newAdamax(t, []int{1}, 0)
	p := [][]float32{{1}}
	o.Update(p, [][]float32{{0.5}}, 0.01)
	st := o.State()
	near := func(name string, got float32, want, tol float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > tol {
			t.Fatalf("%s = %.10g, want %.10g", name, got, want)
		}
	}
	near("m1", st.ExpAvg[0][0], 0.05, 1e-8)
	near("u1", st.ExpInf[0][0], 0.501, 1e-7)
	near("p1", p[0][0], 0.99001996008, 1e-7)
	o.Update(p, [][]float32{{-0.25}}, 0.01)
	near("m2", st.ExpAvg[0][0], 0.02, 1e-8)
	near("u2", st.ExpInf[0][0], 0.500499, 1e-7)
	near("p2", p[0][0], 0.98791679588, 1e-7)

	// ε sits inside the max: a zero gradient from a fresh state gives u = ε, m = 0 and
	// no movement (no division by zero).
	o2 := newAdamax(t, []int{1}, 0)
	q := [][]float32{{3}}
	o2.Update(q, [][]float32{{0}}, 0.01)
	if s := o2.State(); s.ExpInf[0][0] != float32(1e-3) || s.ExpAvg[0][0] != 0 || q[0][0] != 3 {
		t.Fatalf("zero gradient: u = %v, m = %v, p = %v; want 1e-3, 0, 3", s.ExpInf[0][0], s.ExpAvg[0][0], q[0][0])
	}
}

// TestAdamaxWeightDecayOnAllParameters checks that coupled weight decay moves every
// parameter with a zero gradient: g = wd·p, m = 0.1·wd·p, u = wd·|p| + ε and
// p ← p − 10·lr·m/u. For p = 2, wd = 0.1: p = 2 − 0.1·0.02/0.201 = 1.99004975124.
func TestAdamaxWeightDecayOnAllParameters(t *testing.T) {
	sizes := []int{3, 1, 5}
	o := newAdamax(t, sizes, 0.1)
	params := [][]float32{{2, -2, 0}, {2}, {2, 2, 2, 2, 2}}
	grads := [][]float32{make([]float32, 3), make([]float32, 1), make([]float32, 5)}
	o.Update(params, grads, 0.01)
	for i, ps := range params {
		for j, p := range ps {
			want := 1.99004975124
			switch {
			case i == 0 && j == 1:
				want = -want
			case i == 0 && j == 2:
				want = 0
			}
			if math.Abs(float64(p)-want) > 2e-7 {
				t.Fatalf("param %d[%d] = %.9g, want %.9g", i, j, p, want)
			}
		}
	}
	// Gradients are inputs only: weight decay must not write into them.
	for i, g := range grads {
		for j, v := range g {
			if v != 0 {
				t.Fatalf("grad %d[%d] modified to %v", i, j, v)
			}
		}
	}
}

// torchAdamaxStep is an independent sequential float32 transcription of
// torch.optim.Adamax's operation order, with the fused multiply-adds evaluated exactly.
func torchAdamaxStep(p, g, m, u []float32, lr, wd float64, k int64) {
	clr := lr / (1 - math.Pow(0.9, float64(k)))
	v := float32(-clr)
	for i := range p {
		gi := g[i]
		if wd != 0 {
			gi = fma32Exact(float32(wd), p[i], gi) // grad.add(param, alpha=wd)
		}
		mt := m[i] * float32(0.9)
		m[i] = fma32Exact(float32(1-0.9), gi, mt) // exp_avg.mul_(b1).add_(g, alpha=1-b1)
		ub := u[i] * float32(0.999)
		ga := float32(math.Abs(float64(gi))) + float32(1e-3)
		if ga > ub || ga != ga {
			u[i] = ga
		} else {
			u[i] = ub
		}
		num := v * m[i]
		q := num / u[i]
		p[i] += q // param.addcdiv_(m, u, value=-clr)
	}
}

// TestAdamaxBitExactAgainstSequentialTorchOrder runs the parallel batched update on
// enough elements to be split across workers (and across parameter boundaries) and
// compares it bit for bit with the sequential transcription.
func TestAdamaxBitExactAgainstSequentialTorchOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sizes := []int{40000, 0, 3, 70001, 1, 0, 33333, 17}
	params := randParams(r, sizes, 0.5)
	ref := clone2(params)
	refM := make([][]float32, len(sizes))
	refU := make([][]float32, len(sizes))
	for i, n := range sizes {
		refM[i] = make([]float32, n)
		refU[i] = make([]float32, n)
	}
	o := newAdamax(t, sizes, 3e-4)
	for k := int64(1); k <= 4; k++ {
		grads := randParams(r, sizes, math.Pow(10, float64(k%3-2)))
		lr := 1e-2 * float64(k) / 4
		if k == 3 {
			grads[3] = nil // a parameter without gradient is skipped
		}
		o.Update(params, grads, lr)
		for i := range sizes {
			if grads[i] != nil {
				torchAdamaxStep(ref[i], grads[i], refM[i], refU[i], lr, 3e-4, k)
			}
		}
	}
	st := o.State()
	for i := range sizes {
		for j := range ref[i] {
			if math.Float32bits(params[i][j]) != math.Float32bits(ref[i][j]) ||
				math.Float32bits(st.ExpAvg[i][j]) != math.Float32bits(refM[i][j]) ||
				math.Float32bits(st.ExpInf[i][j]) != math.Float32bits(refU[i][j]) {
				t.Fatalf("element %d[%d]: got p=%v m=%v u=%v, want p=%v m=%v u=%v", i, j,
					params[i][j], st.ExpAvg[i][j], st.ExpInf[i][j], ref[i][j], refM[i][j], refU[i][j])
			}
		}
	}
}

// TestAdamaxStateRoundTrip saves the state mid-run, restores it into a fresh optimizer
// and checks that both continue identically.
func TestAdamaxStateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	sizes := []int{10, 0, 25}
	params := randParams(r, sizes, 1)
	a := newAdamax(t, sizes, 3e-4)
	for range 3 {
		a.Update(params, randParams(r, sizes, 0.1), 1e-2)
	}
	saved := a.State()
	// Deep copy, as a checkpoint would.
	snap := AdamaxState{Step: saved.Step, ExpAvg: clone2(saved.ExpAvg), ExpInf: clone2(saved.ExpInf)}

	b := newAdamax(t, sizes, 3e-4)
	if err := b.SetState(snap); err != nil {
		t.Fatal(err)
	}
	if b.Step != 3 {
		t.Fatalf("restored Step = %d, want 3", b.Step)
	}
	pa, pb := clone2(params), clone2(params)
	for range 2 {
		g := randParams(r, sizes, 0.1)
		a.Update(pa, g, 1e-2)
		b.Update(pb, g, 1e-2)
	}
	sa, sb := a.State(), b.State()
	for i := range sizes {
		for j := range pa[i] {
			if pa[i][j] != pb[i][j] || sa.ExpAvg[i][j] != sb.ExpAvg[i][j] || sa.ExpInf[i][j] != sb.ExpInf[i][j] {
				t.Fatalf("element %d[%d] diverged after restore", i, j)
			}
		}
	}

	// Mismatched states are rejected and leave the optimizer unchanged.
	bad := []AdamaxState{
		{Step: 1, ExpAvg: clone2(snap.ExpAvg), ExpInf: clone2(snap.ExpInf[:2])},
		{Step: 1, ExpAvg: [][]float32{make([]float32, 10), nil, make([]float32, 24)}, ExpInf: clone2(snap.ExpInf)},
		{Step: -1, ExpAvg: clone2(snap.ExpAvg), ExpInf: clone2(snap.ExpInf)},
	}
	for k, s := range bad {
		if err := b.SetState(s); err == nil {
			t.Fatalf("bad state %d accepted", k)
		}
	}
	if b.Step != 5 {
		t.Fatalf("Step changed by a rejected SetState: %d", b.Step)
	}
	b.Reset()
	if s := b.State(); b.Step != 0 || s.ExpAvg[0][0] != 0 || s.ExpInf[2][24] != 0 {
		t.Fatal("Reset did not clear the state")
	}
}

func TestNewAdamaxRejectsBadInput(t *testing.T) {
	if _, err := NewAdamax([]int{3, -1}, 0); err == nil {
		t.Fatal("negative size accepted")
	}
	if _, err := NewAdamax([]int{3}, -1e-3); err == nil {
		t.Fatal("negative weight decay accepted")
	}
	o := newAdamax(t, []int{2, 3}, 0)
	if o.NumElements() != 5 || len(o.Sizes()) != 2 {
		t.Fatalf("NumElements = %d, Sizes = %v", o.NumElements(), o.Sizes())
	}
	if o.Beta1 != 0.9 || o.Beta2 != 0.999 || o.Eps != 1e-3 {
		t.Fatalf("defaults: %v %v %v", o.Beta1, o.Beta2, o.Eps)
	}
}

// TestAdamaxUpdateDoesNotAllocate checks that a step allocates no more than the worker
// pool's own bookkeeping for one parallel loop.
func TestAdamaxUpdateDoesNotAllocate(t *testing.T) {
	sizes := []int{100000, 50000}
	r := rand.New(rand.NewPCG(9, 10))
	params := randParams(r, sizes, 1)
	grads := randParams(r, sizes, 0.1)
	o := newAdamax(t, sizes, 3e-4)
	noop := func(lo, hi int) {}
	pool := testing.AllocsPerRun(20, func() { cpu.Parallel(o.NumElements(), adamaxGrain, noop) })
	got := testing.AllocsPerRun(20, func() { o.Update(params, grads, 1e-3) })
	if got > pool {
		t.Fatalf("Update allocates %v times per step, the bare parallel loop %v", got, pool)
	}
}

func BenchmarkAdamaxUpdate(b *testing.B) {
	sizes := []int{1 << 20, 1 << 19, 12345}
	r := rand.New(rand.NewPCG(11, 12))
	params := randParams(r, sizes, 1)
	grads := randParams(r, sizes, 0.1)
	o, _ := NewAdamax(sizes, 3e-4)
	b.SetBytes(int64(o.NumElements()) * 4)
	b.ResetTimer()
	for range b.N {
		o.Update(params, grads, 1e-3)
	}
}

// TestAdamaxHardRoundingCases drives elements into the exact rounding path of the
// batched update (float32 rounding midpoints after the float64 sum, subnormal values)
// and compares them bit for bit with the sequential transcription.
func TestAdamaxHardRoundingCases(t *testing.T) {
	const h = 1 + 0x1p-12 // h·h = 1 + 2^-11 + 2^-24 is a float32 rounding midpoint
	wd := float64(float32(h))
	params := [][]float32{{h, h, -h, 0, 1e-40, 0, 1, h}}
	grads := [][]float32{{0x1p-80, -0x1p-80, 0x1p-80, 1e-41, 0, 0, 0.5, 0}}
	ref := clone2(params)
	refM := [][]float32{make([]float32, len(params[0]))}
	refU := [][]float32{make([]float32, len(params[0]))}
	o := newAdamax(t, []int{len(params[0])}, wd)
	for k := int64(1); k <= 3; k++ {
		o.Update(params, grads, 1e-2)
		torchAdamaxStep(ref[0], grads[0], refM[0], refU[0], 1e-2, wd, k)
	}
	st := o.State()
	for j := range ref[0] {
		if math.Float32bits(params[0][j]) != math.Float32bits(ref[0][j]) ||
			math.Float32bits(st.ExpAvg[0][j]) != math.Float32bits(refM[0][j]) ||
			math.Float32bits(st.ExpInf[0][j]) != math.Float32bits(refU[0][j]) {
			t.Fatalf("element %d: got p=%v m=%v u=%v, want p=%v m=%v u=%v", j,
				params[0][j], st.ExpAvg[0][j], st.ExpInf[0][j], ref[0][j], refM[0][j], refU[0][j])
		}
	}
	// The first element's decayed gradient must be the correctly rounded fused value,
	// which a plain float64 evaluation gets wrong: check that the two differ here.
	naive := float32(float64(float32(h))*float64(float32(h)) + 0x1p-80)
	if naive == fma32Exact(h, h, 0x1p-80) {
		t.Fatal("hard case is not hard")
	}
}
