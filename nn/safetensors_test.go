package nn

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// fixture is a parsed safetensors file (F32 tensors only) with its metadata.
type fixture struct {
	t    map[string]*tensor.Tensor
	meta map[string]string
}

// readSafetensors is a minimal test-only reader: an 8-byte little-endian header
// length, a JSON header and raw little-endian float32 data.
func readSafetensors(path string) (*fixture, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(raw)
	if 8+n > uint64(len(raw)) {
		return nil, fmt.Errorf("%s: header length %d beyond file", path, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	data := raw[8+n:]
	f := &fixture{t: map[string]*tensor.Tensor{}, meta: map[string]string{}}
	for k, v := range hdr {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &f.meta); err != nil {
				return nil, fmt.Errorf("%s: metadata: %w", path, err)
			}
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("%s: entry %s: %w", path, k, err)
		}
		if e.Dtype != "F32" {
			return nil, fmt.Errorf("%s: %s has dtype %s", path, k, e.Dtype)
		}
		b := data[e.Offsets[0]:e.Offsets[1]]
		vals := make([]float32, len(b)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		f.t[k] = tensor.FromData(vals, e.Shape...)
	}
	return f, nil
}

// load reads a fixture or fails the test.
func load(t *testing.T, path string) *fixture {
	t.Helper()
	f, err := readSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// get returns a tensor or fails the test.
func (f *fixture) get(t *testing.T, key string) *tensor.Tensor {
	t.Helper()
	v, ok := f.t[key]
	if !ok {
		t.Fatalf("fixture has no %q", key)
	}
	return v
}

// nhwc loads an NCHW fixture tensor converted to NHWC.
func (f *fixture) nhwc(t *testing.T, key string) *tensor.Tensor {
	t.Helper()
	return tensor.NCHWToNHWC(f.get(t, key))
}

// maxErr returns the largest |a−b| and the largest |a−b|/(|b|+floor).
func maxErr(a, b []float32, floor float64) (abs, rel float64) {
	if len(a) != len(b) {
		return math.Inf(1), math.Inf(1)
	}
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		abs = max(abs, d)
		rel = max(rel, d/(math.Abs(float64(b[i]))+floor))
	}
	return abs, rel
}
