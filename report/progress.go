package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stats is one progress snapshot of a training run.
type Stats struct {
	Step, Total  int64   // current global step and the planned total (Total <= 0: unknown)
	Loss         float64 // training loss (NELBO plus regularizers)
	NELBO        float64 // negative ELBO, nats per image
	KL           float64 // KL term, nats per image
	ImagesPerSec float64 // throughput; <= 0 shows as "-"
	// ETA is the estimated time to Total; negative means unknown. Progress.Update fills
	// it in when it is zero.
	ETA time.Duration
}

// FormatProgress renders s as one line without a newline, e.g.
//
//	step 1200/78000 (1.5%)  loss 812.34  nelbo 803.2  kl 95.125  img/s 41.7  eta 3h12m
//
// Numbers keep 5 significant digits; NaN and infinities print as NaN, +Inf, -Inf.
func FormatProgress(s Stats) string {
	var b strings.Builder
	if s.Total > 0 {
		fmt.Fprintf(&b, "step %d/%d (%.1f%%)", s.Step, s.Total, 100*float64(s.Step)/float64(s.Total))
	} else {
		fmt.Fprintf(&b, "step %d", s.Step)
	}
	b.WriteString("  loss " + fmtNum(s.Loss))
	b.WriteString("  nelbo " + fmtNum(s.NELBO))
	b.WriteString("  kl " + fmtNum(s.KL))
	if s.ImagesPerSec > 0 {
		b.WriteString("  img/s " + strconv.FormatFloat(s.ImagesPerSec, 'f', 1, 64))
	} else {
		b.WriteString("  img/s -")
	}
	b.WriteString("  eta " + fmtDuration(s.ETA))
	return b.String()
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

// FormatBar renders how far a job of s.Total units has come as a bar of width
// characters followed by the count, the percentage, the rate and the ETA, e.g.
//
//	[#######.............]  3400/10000 (34.0%)  125.3 forwards/s  eta 52s
//
// unit names what is counted ("forwards"); without a total it prints the count only.
func FormatBar(s Stats, width int, unit string) string {
	var b strings.Builder
	if s.Total > 0 {
		done := min(max(int(int64(width)*s.Step/s.Total), 0), width)
		b.WriteString("[" + strings.Repeat("#", done) + strings.Repeat(".", width-done) + "]  ")
		fmt.Fprintf(&b, "%d/%d (%.1f%%)", s.Step, s.Total, 100*float64(s.Step)/float64(s.Total))
	} else {
		fmt.Fprintf(&b, "%d", s.Step)
	}
	if s.ImagesPerSec > 0 {
		b.WriteString("  " + strconv.FormatFloat(s.ImagesPerSec, 'f', 1, 64) + " " + unit + "/s")
	}
	b.WriteString("  eta " + fmtDuration(s.ETA))
	return b.String()
}

// fmtDuration prints a duration compactly: 45s, 12m05s, 3h12m, 2d07h; "--" if negative.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "--"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// Progress prints a progress line for a training run. On a terminal it rewrites one
// line in place ('\r') at most once per Interval (default 200 ms); otherwise (a pipe,
// a file, a CI log) it prints a plain line at most once per Interval (default 30 s).
// The first update and the last step (Step == Total) are always printed. A Progress is
// safe for concurrent use.
type Progress struct {
	// Terminal selects in-place updates; NewProgress sets it by inspecting the writer.
	Terminal bool
	// Interval is the minimum time between two printed lines.
	Interval time.Duration
	// Format renders a snapshot as one line; nil means FormatProgress (a training
	// run). Other long jobs (an evaluation) set their own.
	Format func(Stats) string

	mu        sync.Mutex
	w         io.Writer
	total     int64
	now       func() time.Time
	started   bool
	start     time.Time
	startStep int64
	printed   bool      // something has been printed
	last      time.Time // when the last line was printed
	pending   *Stats    // latest snapshot not printed yet
	lastLen   int       // length of the line on screen (terminal mode)
	open      bool      // a terminal line is on screen without a newline
}

// NewProgress returns a reporter writing to w for a run of total steps (total <= 0:
// unknown). w is treated as a terminal if it is an *os.File on a character device.
func NewProgress(w io.Writer, total int64) *Progress {
	p := &Progress{w: w, total: total, now: time.Now, Terminal: isTerminal(w)}
	if p.Terminal {
		p.Interval = 200 * time.Millisecond
	} else {
		p.Interval = 30 * time.Second
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Update records a new snapshot and prints it if the interval has passed. Total is
// taken from NewProgress when s.Total is zero; a zero s.ETA is estimated from the mean
// time per step since the first Update (so a resumed run's earlier steps do not count).
func (p *Progress) Update(s Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if s.Total == 0 {
		s.Total = p.total
	}
	if !p.started {
		p.started, p.start, p.startStep = true, now, s.Step
	}
	if s.ETA == 0 {
		s.ETA = -1
		if done := s.Step - p.startStep; done > 0 && s.Total > 0 {
			perStep := now.Sub(p.start) / time.Duration(done)
			s.ETA = perStep * time.Duration(max(s.Total-s.Step, 0))
		}
	}
	final := s.Total > 0 && s.Step >= s.Total
	if p.printed && !final && now.Sub(p.last) < p.Interval {
		p.pending = &s
		return
	}
	p.print(s, now)
}

// Println prints msg on a line of its own (e.g. evaluation results), first clearing
// the in-place progress line on a terminal; the next Update redraws it.
func (p *Progress) Println(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, msg)
}

// Done prints the latest snapshot if it was held back by the interval and ends the
// terminal line with a newline.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending != nil {
		p.print(*p.pending, p.now())
	}
	if p.open {
		fmt.Fprintln(p.w)
		p.open, p.lastLen = false, 0
	}
}

// clear erases the in-place terminal line.
func (p *Progress) clear() {
	if p.open {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.lastLen)+"\r")
		p.open, p.lastLen = false, 0
	}
}

func (p *Progress) print(s Stats, now time.Time) {
	format := p.Format
	if format == nil {
		format = FormatProgress
	}
	line := format(s)
	if p.Terminal {
		pad := ""
		if n := p.lastLen - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprint(p.w, "\r"+line+pad)
		p.lastLen, p.open = len(line), true
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.last, p.printed, p.pending = now, true, nil
}
