package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFormatProgress(t *testing.T) {
	tests := []struct {
		s    Stats
		want string
	}{
		{Stats{Step: 1200, Total: 78000, Loss: 812.3449, NELBO: 803.2, KL: 95.125, ImagesPerSec: 41.66, ETA: 3*time.Hour + 12*time.Minute + 29*time.Second},
			"step 1200/78000 (1.5%)  loss 812.34  nelbo 803.2  kl 95.125  img/s 41.7  eta 3h12m"},
		{Stats{Step: 5, Loss: math.NaN(), NELBO: math.Inf(1), KL: math.Inf(-1), ETA: -1},
			"step 5  loss NaN  nelbo +Inf  kl -Inf  img/s -  eta --"},
		{Stats{Step: 10, Total: 10, Loss: 123456.7, NELBO: 0.000123456, KL: 0, ImagesPerSec: 1000, ETA: 0},
			"step 10/10 (100.0%)  loss 1.2346e+05  nelbo 0.00012346  kl 0  img/s 1000.0  eta 0s"},
	}
	for _, tc := range tests {
		if got := FormatProgress(tc.s); got != tc.want {
			t.Errorf("FormatProgress(%+v)\n got %q\nwant %q", tc.s, got, tc.want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "--"},
		{0, "0s"},
		{1499 * time.Millisecond, "1s"},
		{59 * time.Second, "59s"},
		{12*time.Minute + 5*time.Second, "12m05s"},
		{time.Hour, "1h00m"},
		{55*time.Hour + 30*time.Minute, "2d07h"},
	}
	for _, tc := range tests {
		if got := fmtDuration(tc.d); got != tc.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 100)
	if p.Terminal || p.Interval != 30*time.Second {
		t.Fatalf("buffer detected as terminal=%v interval %v", p.Terminal, p.Interval)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p.now = clk.now
	p.Interval = 10 * time.Second
	// Resumed run: starts at step 40, 1 s per step.
	for step := int64(40); step <= 100; step++ {
		p.Update(Stats{Step: step, Loss: 1})
		clk.t = clk.t.Add(time.Second)
	}
	p.Done()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// Printed: first update (step 40), then every 10 s (50, 60, ..., 90) and the final step.
	wantSteps := []string{"step 40/100", "step 50/100", "step 60/100", "step 70/100", "step 80/100", "step 90/100", "step 100/100"}
	if len(lines) != len(wantSteps) {
		t.Fatalf("lines:\n%s", buf.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, wantSteps[i]+" ") || strings.Contains(l, "\r") {
			t.Errorf("line %d = %q, want prefix %q", i, l, wantSteps[i])
		}
	}
	if !strings.HasSuffix(lines[0], "eta --") || !strings.HasSuffix(lines[1], "eta 50s") || !strings.HasSuffix(lines[6], "eta 0s") {
		t.Errorf("ETA wrong:\n%s", buf.String())
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, 0)
	p.Terminal = true
	p.Interval = 200 * time.Millisecond
	clk := &fakeClock{t: time.Unix(0, 0)}
	p.now = clk.now
	p.Update(Stats{Step: 1, Loss: 123456})
	clk.t = clk.t.Add(100 * time.Millisecond)
	p.Update(Stats{Step: 2, Loss: 2}) // held back
	p.Println("eval: nelbo 3")
	clk.t = clk.t.Add(150 * time.Millisecond)
	p.Update(Stats{Step: 3, Loss: 33333})
	p.Update(Stats{Step: 4, Loss: 4}) // held back, printed by Done
	p.Done()
	l1 := FormatProgress(Stats{Step: 1, Loss: 123456, ETA: -1})
	l3 := FormatProgress(Stats{Step: 3, Loss: 33333, ETA: -1})
	l4 := FormatProgress(Stats{Step: 4, Loss: 4, ETA: -1})
	want := "\r" + l1 + "\r" + strings.Repeat(" ", len(l1)) + "\r" + "eval: nelbo 3\n" +
		"\r" + l3 + "\r" + l4 + strings.Repeat(" ", len(l3)-len(l4)) + "\n"
	if buf.String() != want {
		t.Errorf("terminal output\n got %q\nwant %q", buf.String(), want)
	}
}
