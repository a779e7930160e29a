package train

import (
	"io"
	"math"
	"testing"

	"github.com/nvae-go/nvae/model"
)

// TestDemoScheduleIsSmooth builds the trainer of the README's main job (the demo preset
// with its step plan) and checks its learning-rate and β schedules over every step: the
// warm-up rises by at most LRMax/W per step, after it no step changes the LR by more
// than 5 % (the per-epoch cosine of 3 epochs dropped it 100-fold in one step), the last
// step runs at learning_rate_min, and β rises to 1 before the end and stays there.
func TestDemoScheduleIsSmooth(t *testing.T) {
	cfg, err := model.Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	plan, ok := model.PresetPlan("demo")
	if !ok {
		t.Fatal("the demo preset has no step plan")
	}
	o := Options{Config: cfg, Data: "embedded", Out: t.TempDir(), Log: io.Discard}
	o.ApplyPlan(plan)
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	total := tr.prog.TotalSteps
	if total != plan.Steps {
		t.Fatalf("planned %d steps, want the plan's %d", total, plan.Steps)
	}
	iters := tr.train.BatchesPerEpoch()
	lr := func(s int) float64 { return tr.lr.LR(s, s/iters) }
	w := plan.WarmupSteps
	if w < 1 || w >= total/2 {
		t.Fatalf("warm-up of %d steps out of %d", w, total)
	}
	for s := 1; s < w; s++ {
		if d := lr(s) - lr(s-1); d < 0 || d > cfg.LearningRate/float64(w)*(1+1e-12) {
			t.Errorf("warm-up step %d: LR %g → %g", s, lr(s-1), lr(s))
		}
	}
	for s := w; s < total; s++ {
		a, b := lr(s-1), lr(s)
		if !(a > 0 && b > 0) || b > a*(1+1e-12) || a/b > 1.05 {
			t.Errorf("step %d: LR %g → %g (ratio %.4f)", s, a, b, a/b)
		}
	}
	if got := lr(total - 1); math.Abs(got-cfg.LearningRateMin) > 1e-12 {
		t.Errorf("last step LR %g, want learning_rate_min %g", got, cfg.LearningRateMin)
	}
	if mid := lr(total / 2); mid < 0.3*cfg.LearningRate || mid > 0.7*cfg.LearningRate {
		t.Errorf("LR halfway %g, want about half of %g (a cosine per step)", mid, cfg.LearningRate)
	}
	reached := -1
	for s := 0; s < total; s++ {
		b := tr.kl.Beta(s)
		if reached >= 0 && b != 1 {
			t.Fatalf("β falls back to %g at step %d after reaching 1 at step %d", b, s, reached)
		}
		if b == 1 && reached < 0 {
			reached = s
		}
	}
	if reached < 0 || reached > total*3/4 {
		t.Errorf("β reaches 1 at step %d of %d, want within the first three quarters", reached, total)
	}
}
