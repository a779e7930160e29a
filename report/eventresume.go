package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// sessionStart is tensorflow.SessionLog.SessionStatus START.
const sessionStart = 1

// SessionStart writes an Event{wall_time, step, session_log{status: START}}: the
// start of a training session at step. TensorBoard (with file_version 2) reads a
// START after the first one of a run as a restart and drops every point read so far
// whose step is ≥ step, from all tags and all earlier files of the run; later
// records, including points rewritten at those steps, are kept.
func (ew *EventWriter) SessionStart(step int64) error {
	var sl pbuf
	sl.varint(1, sessionStart)
	var ev pbuf
	ev.double(1, wallTime(ew.now()))
	ev.varint(2, uint64(step))
	ev.bytes(7, sl.b) // Event.session_log
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if err := ew.writeRecord(ev.b); err != nil {
		return err
	}
	return ew.flush()
}

// ResumeEventWriter opens a new event file in dir for a training session that
// starts after step updates (0 for a new run) and marks the start with SessionLog
// START at step, so that TensorBoard shows no point twice: on a resume it drops the
// points of the earlier files at steps ≥ step, which the resumed run writes again.
// Points at steps ≥ step that the resumed run will not write again (keep reports
// them, by tag and step; nil keeps none) are copied from the earlier files into the
// new one after the START, with their wall times, so they survive the purge.
//
// The earlier event files are read as TensorBoard reads them: in name order, each up
// to its first truncated or damaged record (a write cut short), their own START
// events applied. Only the summary values of the earlier files are copied.
func ResumeEventWriter(dir string, step int64, keep func(tag string, step int64) bool) (*EventWriter, error) {
	return resumeEventWriter(dir, step, keep, time.Now)
}

func resumeEventWriter(dir string, step int64, keep func(tag string, step int64) bool, now func() time.Time) (*EventWriter, error) {
	var carry []eventValue
	if step > 0 && keep != nil {
		var err error
		carry, err = pointsFrom(dir, step)
		if err != nil {
			return nil, err
		}
	}
	ew, err := newEventWriter(dir, now)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*EventWriter, error) {
		ew.Close()
		os.Remove(ew.path)
		return nil, err
	}
	if err := ew.SessionStart(step); err != nil {
		return fail(err)
	}
	for _, p := range carry {
		if !keep(p.tag, p.step) {
			continue
		}
		var s pbuf
		s.bytes(1, p.value)
		var ev pbuf
		ev.double(1, p.wall)
		ev.varint(2, uint64(p.step))
		ev.bytes(5, s.b)
		if err := ew.writeRecord(ev.b); err != nil {
			return fail(err)
		}
	}
	if err := ew.Flush(); err != nil {
		return fail(err)
	}
	return ew, nil
}

// eventValue is one summary value read back from an event file.
type eventValue struct {
	wall  float64
	step  int64
	tag   string
	value []byte // the encoded Summary.Value
}

// pointsFrom reads the event files of dir in name order and returns the summary
// values at steps ≥ from that TensorBoard would show after reading them all (each
// START after the first drops the points at steps ≥ its step read before it).
func pointsFrom(dir string, from int64) ([]eventValue, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: reading the event files: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), "events.out.tfevents.") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var kept []eventValue
	seenStart := false
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("report: reading the event files: %w", err)
		}
		for _, rec := range tfRecords(b) {
			ev, ok := parseEvent(rec)
			if !ok {
				continue
			}
			if ev.start {
				if seenStart {
					kept = dropFrom(kept, ev.step)
				}
				seenStart = true
				continue
			}
			if ev.step < from {
				continue
			}
			for _, v := range ev.values {
				kept = append(kept, eventValue{wall: ev.wall, step: ev.step, tag: v.tag, value: v.raw})
			}
		}
	}
	return kept, nil
}

func dropFrom(vs []eventValue, step int64) []eventValue {
	out := vs[:0]
	for _, v := range vs {
		if v.step < step {
			out = append(out, v)
		}
	}
	return out
}

// tfRecords splits a TFRecord file up to its first truncated or damaged record.
func tfRecords(b []byte) [][]byte {
	var recs [][]byte
	for len(b) >= 12 {
		n := binary.LittleEndian.Uint64(b[:8])
		if binary.LittleEndian.Uint32(b[8:12]) != maskedCRC32C(b[:8]) || n > uint64(len(b)-12) || uint64(len(b)-12)-n < 4 {
			break
		}
		data := b[12 : 12+n]
		if binary.LittleEndian.Uint32(b[12+n:16+n]) != maskedCRC32C(data) {
			break
		}
		recs = append(recs, data)
		b = b[16+n:]
	}
	return recs
}

// parsedEvent is what pointsFrom needs of an Event.
type parsedEvent struct {
	wall   float64
	step   int64
	start  bool // session_log.status == START
	values []parsedValue
}

type parsedValue struct {
	tag string
	raw []byte
}

// parseEvent decodes the fields of a tensorflow.Event that pointsFrom uses; ok is
// false for bytes that are not a well-formed message.
func parseEvent(b []byte) (ev parsedEvent, ok bool) {
	ok = eachField(b, func(num, wire int, u uint64, sub []byte) bool {
		switch {
		case num == 1 && wire == 1:
			ev.wall = math.Float64frombits(u)
		case num == 2 && wire == 0:
			ev.step = int64(u)
		case num == 5 && wire == 2: // summary
			return eachField(sub, func(num, wire int, _ uint64, val []byte) bool {
				if num != 1 || wire != 2 { // Summary.value
					return true
				}
				v := parsedValue{raw: val}
				if !eachField(val, func(num, wire int, _ uint64, s []byte) bool {
					if num == 1 && wire == 2 {
						v.tag = string(s)
					}
					return true
				}) {
					return false
				}
				ev.values = append(ev.values, v)
				return true
			})
		case num == 7 && wire == 2: // session_log
			return eachField(sub, func(num, wire int, u uint64, _ []byte) bool {
				if num == 1 && wire == 0 && u == sessionStart {
					ev.start = true
				}
				return true
			})
		}
		return true
	})
	return ev, ok
}

// eachField calls fn with every field of the protocol buffer message b (u holds
// varint and fixed values, sub the bytes of a length-delimited field) and reports
// whether b was well formed and fn returned true for every field.
func eachField(b []byte, fn func(num, wire int, u uint64, sub []byte) bool) bool {
	for len(b) > 0 {
		k, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		num, wire := int(k>>3), int(k&7)
		var u uint64
		var sub []byte
		switch wire {
		case 0:
			u, n = binary.Uvarint(b)
			if n <= 0 {
				return false
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return false
			}
			u, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return false
			}
			u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return false
			}
			sub, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return false
		}
		if !fn(num, wire, u, sub) {
			return false
		}
	}
	return true
}

// ScalarPoint is one scalar of a TensorBoard log directory.
type ScalarPoint struct {
	Tag  string
	Step int64
	Wall float64 // seconds since the Unix epoch
	// Value is the summary's simple_value.
	Value float32
}

// ReadScalars returns the scalar points of the event files in dir as TensorBoard
// shows them: the files read in name order, each up to its first truncated or
// damaged record, every SessionLog START after the first dropping the points read
// before it at steps ≥ its step. The points are in the order they were read.
func ReadScalars(dir string) ([]ScalarPoint, error) {
	vs, err := pointsFrom(dir, math.MinInt64)
	if err != nil {
		return nil, err
	}
	var out []ScalarPoint
	for _, v := range vs {
		p := ScalarPoint{Tag: v.tag, Step: v.step, Wall: v.wall}
		simple := false
		eachField(v.value, func(num, wire int, u uint64, _ []byte) bool {
			if num == 2 && wire == 5 {
				p.Value, simple = math.Float32frombits(uint32(u)), true
			}
			return true
		})
		if simple {
			out = append(out, p)
		}
	}
	return out, nil
}
