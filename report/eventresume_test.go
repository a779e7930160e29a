package report

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// tbPoint is one scalar as the test's TensorBoard model shows it.
type tbPoint struct {
	value float32
	wall  float64
}

// tbView reads the event files of dir with the test's own decoder and applies
// TensorBoard's restart rule: files in name order, each up to its first truncated
// record; a SessionLog START (status 1) drops every point read before it at a step ≥
// its step. ignoreFirst selects TensorBoard's newer rule (the first START of a run
// only marks the start) over the older one (every START purges). A (tag, step) read
// twice without a purge between is an error: TensorBoard would show both.
func tbView(t *testing.T, dir string, ignoreFirst bool) (map[string]map[int64]tbPoint, []tfEvent) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	view := map[string]map[int64]tbPoint{}
	seenStart := false
	var last []tfEvent // the events of the last file
	for _, name := range names {
		if !strings.HasPrefix(name, "events.out.tfevents.") {
			t.Fatalf("unexpected file %s in the log directory", name)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		last = nil
		for _, rec := range readRecords(t, cutTail(b)) {
			ev := decodeEvent(t, rec)
			last = append(last, ev)
			if ev.sessionStatus == 1 {
				if seenStart || !ignoreFirst {
					for _, pts := range view {
						for step := range pts {
							if step >= ev.step {
								delete(pts, step)
							}
						}
					}
				}
				seenStart = true
			}
			for _, v := range ev.values {
				if view[v.tag] == nil {
					view[v.tag] = map[int64]tbPoint{}
				}
				if _, dup := view[v.tag][ev.step]; dup {
					t.Errorf("%s: %s at step %d shown twice", name, v.tag, ev.step)
				}
				view[v.tag][ev.step] = tbPoint{v.simple, ev.wallTime}
			}
		}
	}
	return view, last
}

// cutTail drops a last record cut short (what a killed writer leaves), as TensorBoard
// does: the records before it are read.
func cutTail(b []byte) []byte {
	off := 0
	for len(b)-off >= 12 {
		n := int(binary.LittleEndian.Uint64(b[off : off+8]))
		if n < 0 || len(b)-off-16 < n {
			break
		}
		off += 16 + n
	}
	return b[:off]
}

// TestResumeEventWriter runs three sessions in one log directory: A from step 0 to
// 6 (killed mid-record), B resumed from a checkpoint at step 3 that runs to step 8
// and is killed, C resumed from the same checkpoint again. TensorBoard must show
// each point once: A's before the checkpoint, A's evaluation at step 3 (which no
// later session repeats, carried with its wall time), C's training points, and none
// of B's. The result is the same under TensorBoard's older and newer restart rules,
// and ReadScalars agrees.
func TestResumeEventWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb")
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	// keep is the trainer's rule for a resume after 3 updates of an unfinished run:
	// training points at step ≥ 3 are redone, the evaluation after 3 updates is not.
	keep := func(tag string, step int64) bool { return strings.HasPrefix(tag, "val/") && step == 3 }
	session := func(step int64, keep func(string, int64) bool, train [2]int64, base float32, evals []int64) *EventWriter {
		ew, err := resumeEventWriter(dir, step, keep, now)
		if err != nil {
			t.Fatal(err)
		}
		for s := train[0]; s < train[1]; s++ {
			if err := ew.Scalar("train/loss", s, base+float32(s)); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range evals {
			if err := ew.Scalar("val/nelbo", s, base+50+float32(s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		return ew
	}
	a := session(0, nil, [2]int64{0, 6}, 100, []int64{3, 6})
	f, err := os.OpenFile(a.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5}) // a record cut short
	f.Close()
	_, evsA := tbView(t, dir, true)
	wallVal3 := evsA[len(evsA)-2].wallTime // A's val/nelbo at step 3
	if evsA[len(evsA)-2].values[0].tag != "val/nelbo" || evsA[len(evsA)-2].step != 3 {
		t.Fatalf("unexpected events of session A: %+v", evsA[len(evsA)-2])
	}
	session(3, keep, [2]int64{3, 8}, 300, []int64{6})
	c := session(3, keep, [2]int64{3, 5}, 500, nil)

	want := map[string]map[int64]tbPoint{
		"train/loss": {0: {100, 0}, 1: {101, 0}, 2: {102, 0}, 3: {503, 0}, 4: {504, 0}},
		"val/nelbo":  {3: {153, wallVal3}},
	}
	for _, ignoreFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("ignoreFirstStart=%v", ignoreFirst), func(t *testing.T) {
			view, last := tbView(t, dir, ignoreFirst)
			for tag, pts := range want {
				if len(view[tag]) != len(pts) {
					t.Errorf("%s: %d points %v, want %d", tag, len(view[tag]), view[tag], len(pts))
				}
				for step, w := range pts {
					got, ok := view[tag][step]
					if !ok || got.value != w.value || (w.wall != 0 && got.wall != w.wall) {
						t.Errorf("%s at step %d: %+v (present %v), want %+v", tag, step, got, ok, w)
					}
				}
			}
			if len(view) != len(want) {
				t.Errorf("tags %v", view)
			}
			// Session C's file: file_version, START at 3, then the carried point.
			if len(last) < 3 || last[0].fileVersion != "brain.Event:2" || last[1].sessionStatus != 1 || last[1].step != 3 ||
				len(last[2].values) != 1 || last[2].values[0].tag != "val/nelbo" || last[2].step != 3 {
				t.Errorf("session C's file starts %+v", last[:min(3, len(last))])
			}
		})
	}
	pts, err := ReadScalars(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[int64]float32{}
	for _, p := range pts {
		if got[p.Tag] == nil {
			got[p.Tag] = map[int64]float32{}
		}
		if _, dup := got[p.Tag][p.Step]; dup {
			t.Errorf("ReadScalars: %s at step %d twice", p.Tag, p.Step)
		}
		got[p.Tag][p.Step] = p.Value
	}
	for tag, w := range want {
		for step, p := range w {
			if got[tag][step] != p.value {
				t.Errorf("ReadScalars: %s at step %d = %v, want %v", tag, step, got[tag][step], p.value)
			}
		}
		if len(got[tag]) != len(w) {
			t.Errorf("ReadScalars: %s has %d points, want %d", tag, len(got[tag]), len(w))
		}
	}
	if _, err := os.Stat(c.Path()); err != nil {
		t.Fatal(err)
	}
}

// TestResumeEventWriterFresh: a new run's file holds file_version and a START at
// step 0, and carries nothing over even when the directory holds older files.
func TestResumeEventWriterFresh(t *testing.T) {
	dir := t.TempDir()
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	old, err := newEventWriter(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	old.Scalar("val/nelbo", 0, 1)
	old.Close()
	ew, err := resumeEventWriter(dir, 0, func(string, int64) bool { return true }, now)
	if err != nil {
		t.Fatal(err)
	}
	ew.Close()
	b, err := os.ReadFile(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, b)
	if len(recs) != 2 {
		t.Fatalf("%d records, want file_version and START", len(recs))
	}
	if ev := decodeEvent(t, recs[1]); ev.sessionStatus != 1 || ev.step != 0 || len(ev.values) != 0 {
		t.Errorf("second record %+v, want a START at step 0", ev)
	}
}
