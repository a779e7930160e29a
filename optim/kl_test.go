package optim

import (
	"math"
	"testing"
)

// TestKLCoeffOfficial checks β for the official MNIST run: T = 60000, so a = 18000
// and c = 6 (docs/model.md#kl-warm-up).
func TestKLCoeffOfficial(t *testing.T) {
	k := KLScheduleFromPortions(KLAnnealPortion, KLConstPortion, KLConstCoeff, 60000)
	if k.AnnealSteps != 18000 || k.ConstSteps != 6 || k.MinCoeff != 1e-4 {
		t.Fatalf("schedule = %+v", k)
	}
	tests := []struct {
		step int
		want float64
	}{
		{0, 1e-4},                // (0−6)/18000 < 0 → floor
		{6, 1e-4},                // 0 → floor
		{7, 1e-4},                // 1/18000 = 5.6e-5 < 1e-4 → floor
		{8, 2.0 / 18000},         // 1.1e-4 > floor
		{9006, 0.5},              // half way
		{18006, 1},               // end of the rise
		{18005, 17999.0 / 18000}, // just before
		{59999, 1},
	}
	for _, tc := range tests {
		if got := k.Beta(tc.step); got != tc.want {
			t.Errorf("β(%d) = %.17g, want %.17g", tc.step, got, tc.want)
		}
	}
	// CelebA-64: T = 114390 → c = 11.439, a = 34317 (kept fractional, as in Python).
	c := KLScheduleFromPortions(0.3, 0.0001, 0.0001, 114390)
	if got, want := c.Beta(1000), (1000-0.0001*114390)/(0.3*114390); got != want {
		t.Errorf("celeba β(1000) = %v, want %v", got, want)
	}
}

func TestKLStepSchedule(t *testing.T) {
	// 100 constant steps at 1e-4, then a rise to 1 over 1000 steps.
	k := KLStepSchedule(100, 1000, 1e-4)
	for step, want := range map[int]float64{0: 1e-4, 99: 1e-4, 100: 1e-4, 101: 1e-3, 300: 0.2, 600: 0.5, 1100: 1, 5000: 1} {
		if got := k.Beta(step); got != want {
			t.Errorf("β(%d) = %v, want %v", step, got, want)
		}
	}
	// No rise at all: β jumps to 1 at the end of the constant phase.
	j := KLStepSchedule(5, 0, 1e-4)
	for step, want := range map[int]float64{0: 1e-4, 4: 1e-4, 5: 1, 6: 1} {
		if got := j.Beta(step); got != want {
			t.Errorf("jump β(%d) = %v, want %v", step, got, want)
		}
	}
}

// TestRegCoeff checks λ(β) with and without annealing (docs/model.md#regularisation-coefficient).
func TestRegCoeff(t *testing.T) {
	fixed := RegCoeff{Lambda: 1e-2, LambdaInit: 10}
	if err := fixed.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, b := range []float64{1e-4, 0.5, 1} {
		if got := fixed.At(b); got != 1e-2 {
			t.Errorf("fixed λ(%v) = %v, want 1e-2", b, got)
		}
	}
	// ImageNet / CelebA-HQ: λ_init = 1, λ = 1e-2.
	an := RegCoeff{Lambda: 1e-2, LambdaInit: 1, Anneal: true}
	if err := an.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		beta, want float64
	}{
		{0, 1},
		{1e-4, math.Pow(1e-2, 1e-4)}, // 0.99953958...
		{0.5, 0.1},
		{1, 1e-2},
	}
	for _, tc := range tests {
		if got := an.At(tc.beta); !closeRel(got, tc.want, 1e-14) {
			t.Errorf("annealed λ(%v) = %.17g, want %.17g", tc.beta, got, tc.want)
		}
	}
	// Defaults λ_init = 10 → λ = 1e-2 at β = 1e-4 (the first step): 10·(1e-3)^1e-4.
	d := RegCoeff{Lambda: 1e-2, LambdaInit: 10, Anneal: true}
	if got, want := d.At(1e-4), 9.9930946300259; !closeRel(got, want, 1e-13) {
		t.Errorf("λ(1e-4) = %.17g, want %.17g", got, want)
	}
	for i, bad := range []RegCoeff{
		{Lambda: 0, LambdaInit: 1, Anneal: true},
		{Lambda: 1e-2, LambdaInit: 0, Anneal: true},
		{Lambda: -1},
	} {
		if bad.Validate() == nil {
			t.Errorf("bad coefficient %d accepted", i)
		}
	}
}
