package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JSONL is an append-only metrics log with one JSON object per line. Every Write is a
// single write(2) of a complete line, so an interrupted run keeps all lines written
// before the interruption (at worst the final line is cut short; see ReadJSONL).
//
// Every line starts with "time", the wall-clock time of the Write in UTC as RFC 3339
// with milliseconds (TimeFormat), unless the record has its own "time" field.
// ReadJSONL leaves it out, as it does all text fields.
//
// Non-finite floats, which JSON cannot represent, are written as the strings "NaN",
// "+Inf" and "-Inf"; ReadJSONL turns them back into numbers. A JSONL is safe for
// concurrent use.
type JSONL struct {
	mu   sync.Mutex
	f    *os.File
	path string
	now  func() time.Time // the clock of the "time" field
}

// TimeFormat is the layout of the "time" field of every metrics line (RFC 3339 with
// milliseconds; written in UTC, so it ends in "Z").
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// NewJSONL opens the log at path. With appendMode false the file is created or
// truncated; with appendMode true new lines are appended to an existing file (as when
// resuming a run) and an incomplete final line left by an interrupted write is repaired
// first: kept (newline added) if it is a complete JSON object, dropped otherwise.
func NewJSONL(path string, appendMode bool) (*JSONL, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendMode {
		flags = os.O_RDWR | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("report: metrics log: %w", err)
	}
	if appendMode {
		if err := repairTail(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("report: metrics log %s: %w", path, err)
		}
	}
	return &JSONL{f: f, path: path, now: time.Now}, nil
}

// repairTail positions f at its end, first fixing an unterminated last line.
func repairTail(f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return err
	}
	var lastByte [1]byte
	if _, err := f.ReadAt(lastByte[:], size-1); err != nil {
		return err
	}
	if lastByte[0] == '\n' {
		return nil
	}
	// Find where the unterminated last line starts, reading backwards in chunks.
	lineStart := int64(0)
	for pos := size - 1; pos > 0; {
		n := min(pos, 4096)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			lineStart = pos - n + int64(i) + 1
			break
		}
		pos -= n
	}
	last := make([]byte, size-lineStart)
	if _, err := f.ReadAt(last, lineStart); err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(last, &obj) == nil && obj != nil {
		_, err = f.Write([]byte{'\n'}) // complete record, only the newline was lost
		return err
	}
	if err := f.Truncate(lineStart); err != nil {
		return err
	}
	_, err = f.Seek(0, io.SeekEnd)
	return err
}

// Path returns the path of the log file.
func (j *JSONL) Path() string { return j.path }

// Write appends v as one line. v must be a map with string keys (written in sorted key
// order) or a struct or pointer to struct (exported fields in declaration order, named
// and skipped by their `json` tags; omitempty is honoured). Values are encoded with
// encoding/json, except float32/float64 values at the top level, which may be NaN or
// infinite (see JSONL).
func (j *JSONL) Write(v any) error {
	line, err := encodeRecord(v, j.now().UTC().Format(TimeFormat))
	if err != nil {
		return fmt.Errorf("report: metrics log %s: %w", j.path, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("report: metrics log %s: closed", j.path)
	}
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("report: metrics log %s: %w", j.path, err)
	}
	return nil
}

// Close syncs and closes the file.
func (j *JSONL) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("report: metrics log %s: %w", j.path, err)
	}
	return nil
}

// encodeRecord renders v as one JSON object followed by '\n', with a first field
// "time" holding stamp when stamp is not empty and v has no "time" field itself.
func encodeRecord(v any, stamp string) ([]byte, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, errors.New("nil record")
		}
		rv = rv.Elem()
	}
	var keys []string
	var vals []reflect.Value
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("record map keys must be strings, got %s", rv.Type().Key())
		}
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			vals = append(vals, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())))
		}
	case reflect.Struct:
		t := rv.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			fv := rv.Field(i)
			if strings.Contains(","+opts+",", ",omitempty,") && fv.IsZero() {
				continue
			}
			keys = append(keys, name)
			vals = append(vals, fv)
		}
	default:
		return nil, fmt.Errorf("record must be a map or struct, got %T", v)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if stamp != "" && !slices.Contains(keys, "time") {
		b.WriteString(`"time":`)
		sb, _ := json.Marshal(stamp)
		b.Write(sb)
		if len(keys) > 0 {
			b.WriteByte(',')
		}
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		val := vals[i]
		for val.Kind() == reflect.Interface && !val.IsNil() {
			val = val.Elem()
		}
		if val.Kind() == reflect.Float32 || val.Kind() == reflect.Float64 {
			if f := val.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				b.WriteString(`"` + nonFinite(f) + `"`)
				continue
			}
		}
		vb, err := json.Marshal(val.Interface())
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

func nonFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "+Inf"
	default:
		return "-Inf"
	}
}

// ReadJSONL reads a metrics log written by JSONL. Each line becomes a map of its numeric
// fields: JSON numbers; true/false as 1/0; null and the strings "NaN", "+Inf", "-Inf"
// (or any string strconv.ParseFloat accepts) as the corresponding float. Other fields
// (text, arrays, objects) are left out. Blank lines are skipped.
//
// A final line that does not end in a newline and does not parse (a write cut short
// by an interruption) is silently dropped; a malformed line anywhere else is an error
// naming its line number, returned together with the records before that line.
func ReadJSONL(path string) ([]map[string]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: read metrics log: %w", err)
	}
	var out []map[string]float64
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		line, rest, terminated := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeRecord(line)
		if err != nil {
			if !terminated {
				break // interrupted final write
			}
			return out, fmt.Errorf("report: read metrics log %s line %d: %w", path, lineNo, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func decodeRecord(line []byte) (map[string]float64, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("not a JSON object")
	}
	rec := make(map[string]float64, len(obj))
	for k, raw := range obj {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return nil, err
		}
		switch x := x.(type) {
		case float64:
			rec[k] = x
		case bool:
			if x {
				rec[k] = 1
			} else {
				rec[k] = 0
			}
		case nil:
			rec[k] = math.NaN()
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				rec[k] = f
			}
		}
	}
	return rec, nil
}
