package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type stepRecord struct {
	Step    int64   `json:"step"`
	NELBO   float64 `json:"nelbo"`
	KL      float32 `json:"kl"`
	LR      float64 `json:"lr,omitempty"`
	Skipped string  `json:"-"`
	Note    string  `json:"note,omitempty"`
	private int
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestJSONLRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	j, err := NewJSONL(path, false)
	if err != nil {
		t.Fatal(err)
	}
	recs := []any{
		stepRecord{Step: 1, NELBO: 1234.5, KL: 10.25, LR: 1e-3, Skipped: "x", Note: "warmup", private: 3},
		&stepRecord{Step: 2, NELBO: math.NaN(), KL: float32(math.Inf(1))},
		map[string]any{"step": 3, "nelbo": math.Inf(-1), "ok": true, "name": "val", "list": []int{1}},
		map[string]float64{"step": 4, "bpd": 3.25},
	}
	for _, r := range recs {
		if err := j.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	// Lines are on disk before Close (no buffering).
	raw, _ := os.ReadFile(path)
	if n := strings.Count(string(raw), "\n"); n != len(recs) {
		t.Fatalf("%d lines on disk before Close, want %d", n, len(recs))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(map[string]float64{"a": 1}); err == nil {
		t.Error("Write after Close: no error")
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	// Each line starts with the wall-clock time of its Write (UTC, RFC 3339 with ms).
	for i, l := range lines {
		const pre = `{"time":"`
		stamp, rest, ok := strings.Cut(strings.TrimPrefix(l, pre), `",`)
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if !strings.HasPrefix(l, pre) || !ok || err != nil || len(stamp) != len("2006-01-02T15:04:05.000Z") ||
			!strings.HasSuffix(stamp, "Z") || time.Since(ts) > time.Hour || time.Since(ts) < -time.Minute {
			t.Fatalf("line %d = %s: want a first field \"time\" in UTC RFC 3339 with ms, near now (%v)", i+1, l, err)
		}
		lines[i] = "{" + rest
	}
	if want := `{"step":1,"nelbo":1234.5,"kl":10.25,"lr":0.001,"note":"warmup"}`; lines[0] != want {
		t.Errorf("line 1 = %s, want %s", lines[0], want)
	}
	if want := `{"step":2,"nelbo":"NaN","kl":"+Inf"}`; lines[1] != want {
		t.Errorf("line 2 = %s, want %s", lines[1], want)
	}
	if want := `{"list":[1],"name":"val","nelbo":"-Inf","ok":true,"step":3}`; lines[2] != want {
		t.Errorf("line 3 = %s, want %s", lines[2], want)
	}

	got, err := ReadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]float64{
		{"step": 1, "nelbo": 1234.5, "kl": 10.25, "lr": 0.001},
		{"step": 2, "nelbo": math.NaN(), "kl": math.Inf(1)},
		{"step": 3, "nelbo": math.Inf(-1), "ok": 1},
		{"step": 4, "bpd": 3.25},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Errorf("record %d = %v, want %v", i, got[i], want[i])
		}
		for k, v := range want[i] {
			if g, ok := got[i][k]; !ok || !sameFloat(g, v) {
				t.Errorf("record %d %s = %v, want %v", i, k, g, v)
			}
		}
	}
}

func TestJSONLWriteErrors(t *testing.T) {
	j, err := NewJSONL(filepath.Join(t.TempDir(), "m.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, bad := range []any{nil, 3, map[int]float64{1: 2}, (*stepRecord)(nil), map[string]any{"x": func() {}}} {
		if err := j.Write(bad); err == nil {
			t.Errorf("Write(%#v): no error", bad)
		}
	}
	if _, err := NewJSONL(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), true); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestJSONLTruncatedTail(t *testing.T) {
	const good = "{\"step\":1,\"loss\":2}\n{\"step\":2,\"loss\":1.5}\n"
	tests := []struct {
		name      string
		content   string
		wantSteps []float64 // read before repair
		afterApp  []float64 // read after reopening in append mode and writing step 9
		wantErr   bool
	}{
		{"clean", good, []float64{1, 2}, []float64{1, 2, 9}, false},
		{"cut mid-record", good + `{"step":3,"lo`, []float64{1, 2}, []float64{1, 2, 9}, false},
		{"only newline lost", good + `{"step":3,"loss":1}`, []float64{1, 2, 3}, []float64{1, 2, 3, 9}, false},
		{"single partial line", `{"st`, nil, []float64{9}, false},
		{"empty file", "", nil, []float64{9}, false},
		{"blank lines", "\n" + good + "\n", []float64{1, 2}, []float64{1, 2, 9}, false},
		{"corrupt middle line", "{\"step\":1}\n{oops\n{\"step\":2}\n", []float64{1}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			recs, err := ReadJSONL(path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q does not name the bad line", err)
			}
			checkSteps(t, recs, tc.wantSteps)
			if tc.wantErr {
				return
			}
			j, err := NewJSONL(path, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Write(map[string]float64{"step": 9}); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			recs, err = ReadJSONL(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSteps(t, recs, tc.afterApp)
		})
	}
}

func TestJSONLLongPartialTail(t *testing.T) {
	// An unterminated line longer than the backwards-read chunk.
	path := filepath.Join(t.TempDir(), "m.jsonl")
	content := "{\"step\":1}\n{\"note\":\"" + strings.Repeat("x", 10000)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := NewJSONL(path, true)
	if err != nil {
		t.Fatal(err)
	}
	j.Write(map[string]any{"step": 2, "time": "t"})
	j.Close()
	raw, _ := os.ReadFile(path)
	if string(raw) != "{\"step\":1}\n{\"step\":2,\"time\":\"t\"}\n" {
		t.Errorf("file after repair = %.60q", raw)
	}
}

func TestJSONLTruncateMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	os.WriteFile(path, []byte("{\"step\":1}\n"), 0o644)
	j, err := NewJSONL(path, false)
	if err != nil {
		t.Fatal(err)
	}
	j.Write(map[string]float64{"step": 5})
	j.Close()
	recs, _ := ReadJSONL(path)
	checkSteps(t, recs, []float64{5})
}

func checkSteps(t *testing.T, recs []map[string]float64, want []float64) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("records %v, want steps %v", recs, want)
	}
	for i, r := range recs {
		if r["step"] != want[i] {
			t.Fatalf("records %v, want steps %v", recs, want)
		}
	}
}

// TestJSONLTimeField: the stamp comes from the log's clock in UTC with milliseconds, is
// the first field (also of an empty record), and a record's own "time" field wins.
func TestJSONLTimeField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	j, err := NewJSONL(path, false)
	if err != nil {
		t.Fatal(err)
	}
	j.now = func() time.Time { return time.Date(2024, 3, 1, 13, 4, 5, 678_900_000, time.FixedZone("X", 3600)) }
	for _, r := range []any{map[string]int{"step": 1}, map[string]int{}, map[string]any{"time": "mine", "step": 2}} {
		if err := j.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	raw, _ := os.ReadFile(path)
	want := `{"time":"2024-03-01T12:04:05.678Z","step":1}
{"time":"2024-03-01T12:04:05.678Z"}
{"step":2,"time":"mine"}
`
	if string(raw) != want {
		t.Errorf("log =\n%s\nwant\n%s", raw, want)
	}
}
