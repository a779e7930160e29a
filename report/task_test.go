package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// steppingClock returns a clock that advances by step on each call.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestTaskLines(t *testing.T) {
	var b bytes.Buffer
	task := NewTask(&b, "sampling", "images", 100)
	task.now = steppingClock(2 * time.Second)
	task.start = time.Unix(0, 0)
	task.Terminal, task.Interval = false, 5*time.Second
	for range 10 {
		task.Add(10)
	}
	task.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// Add at t=2,4,…,20 s: printed at 2 (first), 8, 14 (interval 5 s), not the last
	// (left to Done)
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	if lines[0] != "sampling 10/100 images (10.0%)  eta 18s" {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.HasPrefix(lines[3], "sampling 100/100 images (100.0%)  took ") {
		t.Errorf("last line %q", lines[3])
	}
}

func TestTaskQuietWhenShort(t *testing.T) {
	var b bytes.Buffer
	task := NewTask(&b, "sampling", "images", 3)
	task.now = steppingClock(100 * time.Millisecond)
	task.start = time.Unix(0, 0)
	for range 3 {
		task.Add(1)
	}
	task.Done()
	if b.Len() != 0 {
		t.Errorf("a task shorter than Delay printed %q", b.String())
	}
}

func TestTaskBar(t *testing.T) {
	var b bytes.Buffer
	task := NewTask(&b, "evaluating", "images", 40)
	task.now = steppingClock(2 * time.Second)
	task.start = time.Unix(0, 0)
	task.Terminal, task.Interval = true, 0
	task.Add(10)
	if got := b.String(); got != "\revaluating [=====>              ] 10/40 images (25.0%)  eta 6s" {
		t.Errorf("terminal line %q", got)
	}
	task.Done()
	if !strings.HasSuffix(b.String(), "\n") {
		t.Error("Done did not end the terminal line")
	}
}
