package train

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

// TestCountingSource: the evaluation's progress counts every image, the last batch
// included (flushed after eval.NLL, which may stop without asking for more).
func TestCountingSource(t *testing.T) {
	x := tensor.New(10, 2, 2, 1)
	var b bytes.Buffer
	task := report.NewTask(&b, "evaluating", "images", 10)
	task.Delay, task.Interval, task.Terminal = 0, 0, false
	src, flush := countingSource(eval.TensorSource(x, 4), task)
	for i := 0; i < 2; i++ { // a consumer that stops after two batches (8 images)
		if x, _, err := src(); x == nil || err != nil {
			t.Fatal("source ended early", err)
		}
	}
	flush()
	task.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "evaluating 8/10 images") {
		t.Errorf("progress lines %q; want the last to count 8 images", lines)
	}
}

// TestSummaryCountsEvaluation: the summary says how long this run took in all,
// evaluations after the last step included, and how much of it was evaluating.
func TestSummaryCountsEvaluation(t *testing.T) {
	o := testOptions(t, t.TempDir())
	o.Steps = 2
	var log bytes.Buffer
	o.Progress = &log
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Eval == nil || !(sum.EvalSeconds > 0) || !(sum.WallSeconds >= sum.EvalSeconds) {
		t.Errorf("summary: eval %v, %v s evaluating of %v s", sum.Eval, sum.EvalSeconds, sum.WallSeconds)
	}
}
