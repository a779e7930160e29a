package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
)

func TestTrimMetrics(t *testing.T) {
	const log = `{"step":0,"loss":1}
{"step":1,"loss":1}
{"step":2,"val_nll":5}
{"step":2,"loss":1}
not json, kept
{"note":"no step"}
{"step":3,"loss":1}
{"step":4,"val_nll":5}
{"step":4,"loss":`
	for _, c := range []struct {
		name     string
		steps    int
		redoEval bool
		want     string
	}{
		{"mid-run", 2, false, `{"step":0,"loss":1}
{"step":1,"loss":1}
{"step":2,"val_nll":5}
not json, kept
{"note":"no step"}
`},
		{"finished run re-evaluates", 2, true, `{"step":0,"loss":1}
{"step":1,"loss":1}
not json, kept
{"note":"no step"}
`},
		{"only the cut tail", 5, false, strings.TrimSuffix(log, `{"step":4,"loss":`)},
		{"from the start", 0, false, `not json, kept
{"note":"no step"}
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), MetricsName)
			if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := trimMetrics(path, c.steps, c.redoEval); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != c.want {
				t.Errorf("after trimming at %d:\n%s\nwant\n%s", c.steps, got, c.want)
			}
		})
	}
	// Nothing to drop: the file is left alone; no file: no error.
	path := filepath.Join(t.TempDir(), MetricsName)
	os.WriteFile(path, []byte("{\"step\":0}\n"), 0o600)
	if err := trimMetrics(path, 3, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Error("a file with nothing to drop was rewritten")
	}
	if err := trimMetrics(filepath.Join(t.TempDir(), "none.jsonl"), 3, false); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

// TestResumeAfterKill recreates what kill -9 leaves in a run directory, a checkpoint
// at step 2, metrics rows up to step 4 (with an evaluation and a line cut short) and
// a checkpoint's temporary file, then resumes: the temporary file is gone, each step
// has exactly one training row, rows before the checkpoint are the original ones,
// and every row the resumed run writes has a wall-clock time.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.LogEvery = 1
	o.EvalEverySteps = 100 // no evaluation inside these 6 steps, only the final one
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tr.StepOnce(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.checkpoint(1); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	old := `{"step":0,"loss":7,"mark":1}
{"step":1,"loss":7,"mark":1}
{"step":2,"loss":7,"mark":1}
{"step":2,"val_nll":9,"mark":1}
{"step":3,"loss":7,"mark":1}
{"step":4,"loss":7,"mark":1}
{"step":4,"val_nll":9,"mark":1}
{"step":5,"lo`
	if err := os.WriteFile(filepath.Join(dir, MetricsName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	// The killed session's TensorBoard points: the same steps as its metrics rows.
	tb := filepath.Join(dir, "tensorboard")
	ew, err := report.ResumeEventWriter(tb, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := range int64(5) {
		ew.Scalar("train/nelbo_iter", s, 7)
	}
	ew.Scalar("val/neg_log_p", 2, 9)
	ew.Scalar("val/neg_log_p", 4, 9)
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+modelfile.RunFile+".tmp-123456789")
	if err := os.WriteFile(stale, make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}

	var log strings.Builder
	o.Log = &log
	tr, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	if !strings.Contains(log.String(), filepath.Base(stale)) {
		t.Errorf("the removal was not reported: %q", log.String())
	}
	before := time.Now().Add(-time.Second)
	sum, err := tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 6 {
		t.Fatalf("finished at step %d", sum.Steps)
	}
	raw, err := os.ReadFile(filepath.Join(dir, MetricsName))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := report.ReadJSONL(filepath.Join(dir, MetricsName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("%d lines, %d records", len(lines), len(recs))
	}
	trainRows := map[int]int{}
	var evalSteps []int
	for i, r := range recs {
		step := int(r["step"])
		if _, ok := r["val_nll"]; ok {
			evalSteps = append(evalSteps, step)
		} else {
			trainRows[step]++
		}
		if step < 2 || (step == 2 && r["val_nll"] == 9) {
			if r["mark"] != 1 {
				t.Errorf("row %d (step %d) before the checkpoint was replaced: %s", i, step, lines[i])
			}
			continue
		}
		if r["mark"] == 1 {
			t.Errorf("row %d from after the checkpoint was kept: %s", i, lines[i])
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(lines[i], `{"time":"`), `"`)
		ts, err := time.Parse(report.TimeFormat, stamp)
		if err != nil || ts.Before(before) || ts.After(time.Now()) || !strings.HasSuffix(stamp, "Z") {
			t.Errorf("row %d: time %q (%v), want the UTC time of the write", i, stamp, err)
		}
	}
	for s := range 6 {
		if trainRows[s] != 1 {
			t.Errorf("step %d has %d training rows, want 1 (rows: %v)", s, trainRows[s], trainRows)
		}
	}
	if len(evalSteps) != 2 || evalSteps[0] != 2 || evalSteps[1] != 6 {
		t.Errorf("evaluation rows at steps %v, want [2 6] (the one at 4 was after the checkpoint)", evalSteps)
	}

	// TensorBoard shows the same: one point per step, the killed session's before
	// the checkpoint (and its evaluation at the checkpoint), the resumed run's after.
	pts, err := report.ReadScalars(tb)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[int64]float32{}
	for _, p := range pts {
		if seen[p.Tag] == nil {
			seen[p.Tag] = map[int64]float32{}
		}
		if _, dup := seen[p.Tag][p.Step]; dup {
			t.Errorf("TensorBoard shows %s at step %d twice", p.Tag, p.Step)
		}
		seen[p.Tag][p.Step] = p.Value
	}
	for s := range int64(6) {
		v, ok := seen["train/nelbo_iter"][s]
		if !ok || (s < 2) != (v == 7) {
			t.Errorf("train/nelbo_iter at step %d: %v (present %v), want the killed session's value 7 only before step 2", s, v, ok)
		}
	}
	val := seen["val/neg_log_p"]
	if len(val) != 2 || val[2] != 9 || val[6] == 9 || val[6] == 0 {
		t.Errorf("val/neg_log_p points %v, want the killed session's at step 2 and the resumed run's at 6", val)
	}
}

func TestKeepEvents(t *testing.T) {
	if keepEvents(0, false) != nil {
		t.Error("a new run carries points over")
	}
	for _, c := range []struct {
		tag              string
		step, steps      int64
		redoEval, wanted bool
	}{
		{"train/nelbo_iter", 3, 3, false, false}, // the 4th update, redone
		{"train/nelbo_iter", 5, 3, false, false},
		{"val/nelbo", 3, 3, false, true}, // evaluated after 3 updates, not redone
		{"val/nelbo", 3, 3, true, false}, // a finished run evaluates again
		{"val/nelbo", 4, 3, false, false},
		{"kl/total_active", 3, 3, false, false},
	} {
		if got := keepEvents(int(c.steps), c.redoEval)(c.tag, c.step); got != c.wanted {
			t.Errorf("keepEvents(%d, %v)(%q, %d) = %v, want %v", c.steps, c.redoEval, c.tag, c.step, got, c.wanted)
		}
	}
}
