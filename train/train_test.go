package train

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
)

func testOptions(t *testing.T, out string) Options {
	t.Helper()
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BatchSize = 4
	return Options{Config: cfg, Data: "embedded", Out: out, Resume: true, Steps: 6, WarmupSteps: 2,
		KLAnnealSteps: 4, EvalImages: 4, NumIWSamples: 2, Log: io.Discard, CheckpointMinutes: 1e9}
}

// TestResumeMatchesUninterrupted trains 6 steps in one go, and 3 + 3 steps with a
// checkpoint and a fresh trainer in between: the losses must be identical.
func TestResumeMatchesUninterrupted(t *testing.T) {
	run := func(dir string, split int) []float64 {
		var losses []float64
		tr, err := New(testOptions(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < split; i++ {
			sm, err := tr.StepOnce()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, sm.Loss)
		}
		if split < 6 {
			if err := tr.checkpoint(1); err != nil {
				t.Fatal(err)
			}
			tr.Close()
			tr, err = New(testOptions(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if tr.prog.Step != split {
				t.Fatalf("resumed at step %d, want %d", tr.prog.Step, split)
			}
		}
		for tr.prog.Step < 6 {
			sm, err := tr.StepOnce()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, sm.Loss)
		}
		tr.Close()
		return losses
	}
	a := run(t.TempDir(), 6)
	b := run(t.TempDir(), 3)
	for i := range a {
		if a[i] != b[i] || math.IsNaN(a[i]) {
			t.Fatalf("step %d: uninterrupted loss %v, resumed %v (all: %v vs %v)", i, a[i], b[i], a, b)
		}
	}
}

// TestRunWritesRunDirectory runs the whole loop briefly and checks the outputs a
// person looks at, and that a finished run resumes as a no-op.
func TestRunWritesRunDirectory(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.Steps = 3
	o.EvalEverySteps = 2 // an evaluation at step 2, and the final one at step 3
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 3 || sum.Eval == nil || !(sum.Eval.NLLNats > 0) {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range []string{modelfile.RunFile, "metrics.jsonl", "curves.png", "samples_t0.7.png", "samples_t1.0.png", "reconstructions.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	recs, err := report.ReadJSONL(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(recs) == 0 {
		t.Fatalf("metrics: %v, %d records", err, len(recs))
	}
	// the final evaluation is of the final model: its record comes after the last step's
	if last := recs[len(recs)-1]; last["val_nll"] != sum.Eval.NLLNats || last["step"] != 3 {
		t.Errorf("last record %v, want the evaluation at step 3", last)
	}
	m, saved, err := modelfile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := readProgress(saved)
	if err != nil || prog == nil {
		t.Fatalf("run state: %v, %v", prog, err)
	}
	if prog.Step != 3 || m.NumParams() != tr.m.NumParams() {
		t.Fatalf("checkpoint at step %d", prog.Step)
	}
}

func TestCancelledRunSavesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := tr.Run(ctx)
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted {
		t.Fatal("run not marked interrupted")
	}
	if _, err := os.Stat(filepath.Join(dir, modelfile.RunFile)); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidate(t *testing.T) {
	o := testOptions(t, "")
	if err := o.Validate(); err == nil {
		t.Error("missing --out accepted")
	}
	o = testOptions(t, "x")
	o.Steps = -1
	if err := o.Validate(); err == nil {
		t.Error("negative steps accepted")
	}
	o = testOptions(t, "x")
	o.Config.NumPostprocBlocks = 3
	if err := o.Validate(); err == nil {
		t.Error("mismatched pre/post blocks accepted")
	}
}

// TestNonFiniteStepsAreSkipped: a NaN weight makes every step non-finite; no update
// reaches the other weights or the running statistics, the steps are counted, and
// the run stops with a clear error after MaxBadSteps in a row.
func TestNonFiniteStepsAreSkipped(t *testing.T) {
	o := testOptions(t, t.TempDir())
	o.MaxBadSteps = 3
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ps := tr.m.Params()
	ps[len(ps)-1].V.Data()[0] = float32(math.NaN())
	before := append([]float32(nil), ps[1].V.Data()...)
	bn := tr.m.BatchNorms()[0]
	rm := append([]float32(nil), bn.RunMean.Data()...)
	for i := 0; i < 2; i++ {
		sm, err := tr.StepOnce()
		if err != nil || !sm.Skipped {
			t.Fatalf("step %d: skipped=%v err=%v", i, sm.Skipped, err)
		}
	}
	for i, v := range ps[1].V.Data() {
		if v != before[i] {
			t.Fatalf("a skipped step changed %s", ps[1].Name)
		}
	}
	for i, v := range bn.RunMean.Data() {
		if v != rm[i] || bn.NumBatches != 0 {
			t.Fatalf("a skipped step changed the running statistics")
		}
	}
	_, err = tr.StepOnce()
	if err == nil || !strings.Contains(err.Error(), "3 consecutive steps") {
		t.Fatalf("third bad step: err = %v", err)
	}
	if tr.prog.BadSteps != 3 {
		t.Fatalf("counted %d bad steps", tr.prog.BadSteps)
	}
}
