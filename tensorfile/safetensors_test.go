package tensorfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// sameNamed reports the first difference between two tensors (bitwise data).
func sameNamed(t *testing.T, got, want Named) {
	t.Helper()
	if got.Name != want.Name || got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("got %q %s %v, want %q %s %v", got.Name, got.DType, got.Shape, want.Name, want.DType, want.Shape)
	}
	if len(got.Data) != len(want.Data) {
		t.Fatalf("%q: %d values, want %d", got.Name, len(got.Data), len(want.Data))
	}
	for i := range got.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("%q[%d] = %v, want %v", got.Name, i, got.Data[i], want.Data[i])
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	tensors := []Named{
		{Name: "zeta.weight", Shape: []int{2, 3}, DType: F32, Data: []float32{1, -2, 3.5, float32(math.Inf(-1)), 1e-40, 0}},
		{Name: "alpha", Shape: []int{}, DType: F32, Data: []float32{0.25}},
		{Name: "bn.num_batches_tracked", Shape: []int{}, DType: I64, Data: []float32{7}},
		{Name: "empty", Shape: []int{0, 3}, DType: F32, Data: []float32{}},
		{Name: "half", Shape: []int{3}, DType: F16, Data: []float32{1, -0.5, 65504}},
		{Name: "bf", Shape: []int{2}, DType: BF16, Data: []float32{1, -3}},
		{Name: "dbl", Shape: []int{1, 1, 2}, DType: F64, Data: []float32{1.5, -2.25}},
		{Name: "i32", Shape: []int{2}, DType: I32, Data: []float32{-5, 1 << 20}},
		{Name: "i16", Shape: []int{1}, DType: I16, Data: []float32{-300}},
		{Name: "i8", Shape: []int{1}, DType: I8, Data: []float32{-100}},
		{Name: "mask", Shape: []int{2, 2}, DType: U8, Data: []float32{0, 1, 255, 3}},
		{Name: "flags", Shape: []int{3}, DType: BOOL, Data: []float32{1, 0, 1}},
		{Name: "x[0]/\"quoted\"", Shape: []int{1}, DType: "", Data: []float32{9}},
	}
	md := map[string]string{"args": `{"a": 1}`, "note": "ünïcode \"quotes\" <&>", "empty": ""}
	dir := t.TempDir()
	path := filepath.Join(dir, "rt.safetensors")
	if err := WriteSafetensors(path, tensors, md); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(tensors) {
		t.Fatalf("read %d tensors, want %d", len(f.Tensors), len(tensors))
	}
	for i, want := range tensors {
		if want.DType == "" {
			want.DType = F32
		}
		sameNamed(t, f.Tensors[i], want)
	}
	if len(f.Metadata) != len(md) {
		t.Errorf("metadata %v, want %v", f.Metadata, md)
	}
	for k, v := range md {
		if f.Metadata[k] != v {
			t.Errorf("metadata[%q] = %q, want %q", k, f.Metadata[k], v)
		}
	}
	if x, ok := f.Lookup("alpha"); !ok || x.Data[0] != 0.25 {
		t.Errorf("Lookup(alpha) = %v, %v", x, ok)
	}
	if _, ok := f.Lookup("missing"); ok {
		t.Error("Lookup(missing) succeeded")
	}
	if m := f.Map(); len(m) != len(tensors) || m["i8"].Data[0] != -100 {
		t.Errorf("Map() = %v", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the write, want 1", len(entries))
	}

	// Without metadata the file's __metadata__ holds only the checksum, which the
	// reader removes, and reading the same bytes from memory gives the same result.
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, tensors[:2], nil); err != nil {
		t.Fatal(err)
	}
	if md := rawMetadata(t, buf.Bytes()); len(md) != 1 || len(md[ChecksumKey]) != 8 {
		t.Errorf("nil metadata was written as %v, want only %s", md, ChecksumKey)
	}
	f2, err := ReadSafetensorsBytes("mem", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f2.Metadata != nil || !slices.Equal(f2.Names(), []string{"zeta.weight", "alpha"}) {
		t.Errorf("got metadata %v names %v", f2.Metadata, f2.Names())
	}
}

func TestNamedTensor(t *testing.T) {
	x := tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	n := NewNamed("w", x)
	if n.DType != F32 || !slices.Equal(n.Shape, []int{2, 3}) || &n.Data[0] != &x.Data()[0] {
		t.Fatalf("NewNamed = %+v", n)
	}
	y := n.Tensor()
	if !slices.Equal(y.Shape(), []int{2, 3}) || &y.Data()[0] != &x.Data()[0] {
		t.Fatalf("Tensor() shape %v", y.Shape())
	}
	s := Named{Name: "s", Shape: []int{}, Data: []float32{3}}.Tensor()
	if s.Rank() != 0 || s.Item() != 3 {
		t.Fatalf("scalar Tensor() = %v", s)
	}
}

// rawSafetensors assembles a file from a header string and data bytes.
func rawSafetensors(header string, body []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, body...)
}

func f32Bytes(v ...float32) []byte {
	b, _ := encodeElems(nil, v, F32)
	return b
}

func TestSafetensorsKeyOrder(t *testing.T) {
	// The header order is kept: not sorted, not map order.
	names := []string{"z", "a", "m", "b.1", "b.0", "c"}
	var tensors []Named
	for i, n := range names {
		tensors = append(tensors, Named{Name: n, Shape: []int{1}, Data: []float32{float32(i)}})
	}
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, tensors, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadSafetensorsBytes("order", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), names) {
		t.Fatalf("names %v, want %v", f.Names(), names)
	}
	for i, x := range f.Tensors {
		if x.Data[0] != float32(i) {
			t.Fatalf("%s holds %v, want %d", x.Name, x.Data[0], i)
		}
	}

	// A header in sorted order (as other writers produce) with keys_in_order
	// metadata is reordered by the metadata.
	hdr := `{"__metadata__":{"keys_in_order":"[\"b\", \"a\"]"},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	f, err = ReadSafetensorsBytes("kio", rawSafetensors(hdr, f32Bytes(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"b", "a"}) || f.Tensors[0].Data[0] != 1 || f.Tensors[1].Data[0] != 2 {
		t.Fatalf("keys_in_order not applied: %v", f.Tensors)
	}
	// keys_in_order that does not list exactly the tensors is ignored.
	for _, kio := range []string{`[\"b\"]`, `[\"b\", \"b\"]`, `[\"b\", \"x\"]`, `not json`} {
		hdr := `{"__metadata__":{"keys_in_order":"` + kio + `"},` +
			`"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},` +
			`"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
		f, err := ReadSafetensorsBytes("kio", rawSafetensors(hdr, f32Bytes(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Names(), []string{"a", "b"}) {
			t.Errorf("keys_in_order %s: names %v, want header order", kio, f.Names())
		}
	}
}

// fileSHA256 returns the hex SHA-256 of a testdata file.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestReadFixtureInput(t *testing.T) {
	path := "testdata/f1_input.safetensors"
	if h := fileSHA256(t, path); !strings.HasPrefix(h, "766d6af345dc1344") {
		t.Fatalf("%s has sha256 %s, not the F1 fixture", path, h)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"x", "x_gray"}) {
		t.Fatalf("names %v", f.Names())
	}
	x, gray := f.Tensors[0], f.Tensors[1]
	for _, n := range f.Tensors {
		if n.DType != F32 || !slices.Equal(n.Shape, []int{4, 1, 32, 32}) {
			t.Fatalf("%s: %s %v", n.Name, n.DType, n.Shape)
		}
	}
	// The README: x = 1 where the grey value > 0.5, else 0; the 2-pixel border is padding.
	var sum float64
	for i, v := range x.Data {
		want := float32(0)
		if gray.Data[i] > 0.5 {
			want = 1
		}
		if v != want {
			t.Fatalf("x[%d] = %v, grey %v", i, v, gray.Data[i])
		}
		r, c := (i/32)%32, i%32
		if (r < 2 || r >= 30 || c < 2 || c >= 30) && gray.Data[i] != 0 {
			t.Fatalf("padding pixel %d is %v", i, gray.Data[i])
		}
		sum += float64(v)
	}
	if sum != 922 {
		t.Errorf("sum(x) = %v, want 922", sum)
	}
	if f.Metadata["layout"] != "NCHW float32" || f.Metadata["fixture"] != "F1" {
		t.Errorf("metadata %v", f.Metadata)
	}
}

func TestReadFixtureFMNISTU8(t *testing.T) {
	path := "testdata/fmnist_test500_binarized.safetensors"
	if h := fileSHA256(t, path); !strings.HasPrefix(h, "4e903576fd30e050") {
		t.Fatalf("%s has sha256 %s, not the fixture", path, h)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 1 {
		t.Fatalf("%d tensors", len(f.Tensors))
	}
	x := f.Tensors[0]
	if x.Name != "x" || x.DType != U8 || !slices.Equal(x.Shape, []int{500, 1, 32, 32}) {
		t.Fatalf("got %s %s %v", x.Name, x.DType, x.Shape)
	}
	var total, first, last float64
	for i, v := range x.Data {
		if v != 0 && v != 1 {
			t.Fatalf("x[%d] = %v, not binary", i, v)
		}
		r, c := (i/32)%32, i%32
		if (r < 2 || r >= 30 || c < 2 || c >= 30) && v != 0 {
			t.Fatalf("padding pixel %d is %v", i, v)
		}
		total += float64(v)
		switch i / 1024 {
		case 0:
			first += float64(v)
		case 499:
			last += float64(v)
		}
	}
	if total != 115585 || first != 116 || last != 276 {
		t.Errorf("sums: total %v first %v last %v, want 115585 116 276", total, first, last)
	}
}

func TestSafetensorsCorrupt(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header beyond file", append(binary.LittleEndian.AppendUint64(nil, 1000), "{}"...), "exceeds"},
		{"huge header length", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), "exceeds"},
		{"bad JSON", rawSafetensors(`{"a": {"dtype": }`, nil), "bad JSON"},
		{"not an object", rawSafetensors(`[1, 2]  `, nil), "expected an object"},
		{"empty header", rawSafetensors(``, nil), "bad JSON"},
		{"truncated JSON", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`, f32Bytes(1, 2)), "bad JSON"},
		{"trailing JSON", rawSafetensors(ok+` {}`, f32Bytes(1, 2)), "after the object"},
		{"unknown dtype", rawSafetensors(`{"a":{"dtype":"C64","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1, 2)), `unknown dtype "C64"`},
		{"missing shape", rawSafetensors(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, f32Bytes(1, 2)), "missing shape"},
		{"negative dim", rawSafetensors(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, f32Bytes(1, 2)), "negative dimension"},
		{"huge shape", rawSafetensors(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, f32Bytes(1, 2)), "larger than"},
		{"one offset", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, f32Bytes(1, 2)), "2 values"},
		{"offsets beyond data", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1)), "out of range"},
		{"reversed offsets", rawSafetensors(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, f32Bytes(1, 2)), "out of range"},
		{"size mismatch", rawSafetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32Bytes(1, 2, 3)), "needs 12"},
		{"dtype size mismatch", rawSafetensors(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1, 2)), "needs 16"},
		{"overlap", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32Bytes(1, 2, 3)), "overlaps"},
		{"duplicate", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2)), "duplicate"},
		{"bad metadata", rawSafetensors(`{"__metadata__":[1],"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1, 2)), "__metadata__"},
		{"bad entry", rawSafetensors(`{"a":[1]}`, nil), `tensor "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSafetensorsBytes("corrupt.safetensors", tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "corrupt.safetensors") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q: want the file name and %q", msg, tc.want)
			}
		})
	}
	// The same through a real file, and a missing file.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, tests[1].data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSafetensors(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadSafetensors(bad) error %v", err)
	}
	if _, err := ReadSafetensors(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSafetensors(missing) error %v", err)
	}
	// Accepted edge cases: a gap between tensors, zero-length tensors, non-string metadata.
	hdr := `{"__metadata__":{"n":3},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
	f, err := ReadSafetensorsBytes("gap", rawSafetensors(hdr, f32Bytes(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Tensors[1].Data[0] != 2 || f.Metadata["n"] != "3" {
		t.Errorf("got %v %v", f.Tensors, f.Metadata)
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	good := []Named{{Name: "a", Shape: []int{2}, Data: []float32{1, 2}}}
	if err := WriteSafetensors(path, good, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	tests := []struct {
		name    string
		tensors []Named
		want    string
	}{
		{"duplicate", []Named{good[0], good[0]}, "duplicate"},
		{"empty name", []Named{{Shape: []int{1}, Data: []float32{1}}}, "empty name"},
		{"reserved", []Named{{Name: metadataKey, Shape: []int{1}, Data: []float32{1}}}, "reserved"},
		{"length", []Named{{Name: "a", Shape: []int{3}, Data: []float32{1, 2}}}, "2 values for shape [3]"},
		{"negative", []Named{{Name: "a", Shape: []int{-1}, Data: []float32{}}}, "negative"},
		{"dtype", []Named{{Name: "a", Shape: []int{1}, DType: "C64", Data: []float32{1}}}, "unknown dtype"},
		{"not integral", []Named{{Name: "a", Shape: []int{1}, DType: I64, Data: []float32{1.5}}}, "not representable"},
	}
	for _, tc := range tests {
		err := WriteSafetensors(path, tc.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %q and the path", tc.name, err, tc.want)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d directory entries after failed writes, want 1", len(entries))
	}
	if err := WriteSafetensors(filepath.Join(dir, "no", "such", "dir.safetensors"), good, nil); err == nil {
		t.Error("write into a missing directory: no error")
	}
}

// TestReadFixtureDir reads every .safetensors file under $NVAE_FIXTURES (the
// shared fixture folder; the test is skipped when it is unset), checks the
// keys_in_order metadata against the order read, and round-trips each file
// through WriteSafetensors.
func TestReadFixtureDir(t *testing.T) {
	root := os.Getenv("NVAE_FIXTURES")
	if root == "" {
		t.Skip("NVAE_FIXTURES not set")
	}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".safetensors") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures under %s: %v", root, err)
	}
	for _, p := range paths {
		f, err := ReadSafetensors(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if s, ok := f.Metadata["keys_in_order"]; ok {
			var keys []string
			if err := json.Unmarshal([]byte(s), &keys); err != nil || !slices.Equal(keys, f.Names()) {
				t.Errorf("%s: order differs from keys_in_order", p)
			}
		}
		out := filepath.Join(t.TempDir(), "rt.safetensors")
		if err := WriteSafetensors(out, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		g, err := ReadSafetensors(out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Tensors {
			sameNamed(t, g.Tensors[i], f.Tensors[i])
		}
		t.Logf("%s: %d tensors", p, len(f.Tensors))
	}
}
