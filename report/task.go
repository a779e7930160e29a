package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Task reports the progress of a counted piece of work (sampling n images, the
// passes of a BN re-adjustment, an evaluation) on w, normally stderr, so that nothing
// reaches stdout:
//
//	evaluating [=========>          ] 480/1000 images (48.0%)  eta 25s
//
// On a terminal it redraws one line with a bar at most every 200 ms; otherwise it
// prints a plain line at most every 5 s. Work that ends within Delay (1 s) prints
// nothing. A Task is safe for concurrent use.
type Task struct {
	// Terminal selects the in-place bar; NewTask sets it by inspecting w.
	Terminal bool
	// Interval is the minimum time between two printed lines; Delay is how long the
	// task runs before its first line.
	Interval, Delay time.Duration

	mu          sync.Mutex
	w           io.Writer
	label, unit string
	total, done int64
	now         func() time.Time
	start, last time.Time
	printed     bool
	lastLen     int
}

// NewTask starts reporting a task of total units (e.g. "images", "passes") on w.
func NewTask(w io.Writer, label, unit string, total int64) *Task {
	t := &Task{w: w, label: label, unit: unit, total: total, now: time.Now, Terminal: isTerminal(w), Delay: time.Second}
	t.Interval = 5 * time.Second
	if t.Terminal {
		t.Interval = 200 * time.Millisecond
	}
	t.start = t.now()
	return t
}

// Add records n more units done and prints a line when due (the last one is left to
// Done).
func (t *Task) Add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += int64(n)
	now := t.now()
	if (t.total > 0 && t.done >= t.total) || now.Sub(t.start) < t.Delay || (t.printed && now.Sub(t.last) < t.Interval) {
		return
	}
	t.print(now, false)
}

// Done prints the final count (when anything was printed) and ends the line.
func (t *Task) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.printed {
		t.print(t.now(), true)
		if t.Terminal {
			fmt.Fprintln(t.w)
		}
	}
}

// line renders the progress line for done units after elapsed.
func (t *Task) line(elapsed time.Duration, final bool) string {
	var b strings.Builder
	b.WriteString(t.label)
	if t.Terminal && t.total > 0 {
		const width = 20
		fill := int(int64(width) * min(t.done, t.total) / t.total)
		bar := strings.Repeat("=", fill)
		if fill < width {
			bar += ">" + strings.Repeat(" ", width-fill-1)
		}
		b.WriteString(" [" + bar + "]")
	}
	if t.total > 0 {
		fmt.Fprintf(&b, " %d/%d %s (%.1f%%)", t.done, t.total, t.unit, 100*float64(t.done)/float64(t.total))
	} else {
		fmt.Fprintf(&b, " %d %s", t.done, t.unit)
	}
	switch {
	case final:
		b.WriteString("  took " + fmtDuration(elapsed))
	case t.done > 0 && t.total > 0:
		eta := time.Duration(float64(elapsed) / float64(t.done) * float64(max(t.total-t.done, 0)))
		b.WriteString("  eta " + fmtDuration(eta))
	default:
		b.WriteString("  eta --")
	}
	return b.String()
}

func (t *Task) print(now time.Time, final bool) {
	line := t.line(now.Sub(t.start), final)
	if t.Terminal {
		pad := ""
		if n := t.lastLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprint(t.w, "\r"+line+pad)
		t.lastLen = len(line)
	} else {
		fmt.Fprintln(t.w, line)
	}
	t.last, t.printed = now, true
}
