package tensorfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawMetadata decodes the "__metadata__" entry of an encoded safetensors file as a
// plain JSON reader (another tool) sees it.
func rawMetadata(t *testing.T, data []byte) map[string]string {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
		t.Fatalf("header is not plain JSON: %v", err)
	}
	var md map[string]string
	if raw, ok := hdr[metadataKey]; ok {
		if err := json.Unmarshal(raw, &md); err != nil {
			t.Fatalf("__metadata__ is not a map of strings: %v", err)
		}
	}
	return md
}

// TestSafetensorsChecksum writes a file, overwrites bytes in the middle of its tensor
// data, and requires the read to fail naming the file; the intact file, and a file
// without a checksum (as other tools write), read back exactly.
func TestSafetensorsChecksum(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	data := make([]float32, 100_000)
	for i := range data {
		data[i] = rng.Float32()
	}
	tensors := []Named{
		{Name: "w", Shape: []int{len(data)}, Data: data},
		{Name: "n", Shape: []int{2}, DType: I64, Data: []float32{3, -4}},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.safetensors")
	// A stale checksum in the caller's metadata is replaced by the right one.
	if err := WriteSafetensors(path, tensors, map[string]string{"k": "v", ChecksumKey: "00000000"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := rawMetadata(t, raw)
	if md["k"] != "v" || len(md[ChecksumKey]) != 8 || md[ChecksumKey] == "00000000" {
		t.Fatalf("metadata as another tool reads it: %v", md)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Metadata[ChecksumKey]; ok || f.Metadata["k"] != "v" || len(f.Metadata) != 1 {
		t.Errorf("metadata %v: want the checksum entry removed, k kept", f.Metadata)
	}
	if f.Tensors[0].Data[5000] != data[5000] || f.Tensors[1].Data[1] != -4 {
		t.Error("values differ after the round trip")
	}

	hdrLen := int(binary.LittleEndian.Uint64(raw)) + 8
	for _, tc := range []struct {
		name string
		at   int // offset in the data section
		n    int
	}{
		{"middle", (len(raw) - hdrLen) / 2, 64},
		{"first byte", 0, 1},
		{"last byte", len(raw) - hdrLen - 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(raw)
			junk := make([]byte, tc.n)
			rng.Read(junk)
			for i := range junk {
				bad[hdrLen+tc.at+i] ^= junk[i] | 1 // every byte changes
			}
			p := filepath.Join(dir, tc.name+".safetensors")
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadSafetensors(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "checksum mismatch: data corrupted") {
				t.Fatalf("error %v: want the file name and a checksum mismatch", err)
			}
		})
	}

	// A malformed checksum entry is an error; a file without one loads unchecked.
	bad := rawSafetensors(`{"__metadata__":{"nvae.crc32c":"xyz"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1))
	if _, err := ReadSafetensorsBytes("m", bad); err == nil || !strings.Contains(err.Error(), "not 8 hex digits") {
		t.Errorf("malformed checksum: error %v", err)
	}
	plain := rawSafetensors(`{"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(7))
	g, err := ReadSafetensorsBytes("plain", plain)
	if err != nil || g.Tensors[0].Data[0] != 7 || g.Metadata["x"] != "y" {
		t.Errorf("file without checksum: %v %v", g, err)
	}
}

// TestSafetensorsSelected: reading selected tensors gives exactly those tensors of a
// whole read, in the order of "keys_in_order", still verifies the checksum over the
// whole data section (a corrupted byte of a tensor left out is found), and names the
// file in its errors.
func TestSafetensorsSelected(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var tensors []Named
	var order []string
	for i := 0; i < 6; i++ {
		d := make([]float32, 1000+i)
		for j := range d {
			d[j] = rng.Float32()
		}
		name := fmt.Sprintf("t%d", i)
		dt := F32
		if i == 3 {
			dt = F16
			for j := range d {
				d[j] = float32(j % 7)
			}
		}
		tensors = append(tensors, Named{Name: name, Shape: []int{len(d)}, DType: dt, Data: d})
		order = append([]string{name}, order...)
	}
	keys, _ := json.Marshal(order)
	path := filepath.Join(t.TempDir(), "s.safetensors")
	if err := WriteSafetensors(path, tensors, map[string]string{"keys_in_order": string(keys)}); err != nil {
		t.Fatal(err)
	}
	whole, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	keep := func(name string) bool { return name != "t1" && name != "t4" }
	sel, err := ReadSafetensorsSelected(path, keep)
	if err != nil {
		t.Fatal(err)
	}
	var want []Named
	for _, x := range whole.Tensors {
		if keep(x.Name) {
			want = append(want, x)
		}
	}
	if len(sel.Tensors) != len(want) || !maps.Equal(sel.Metadata, whole.Metadata) {
		t.Fatalf("selected %v with metadata %v, want %v with %v", sel.Names(), sel.Metadata, len(want), whole.Metadata)
	}
	for i, x := range want {
		y := sel.Tensors[i]
		if x.Name != y.Name || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !sameBits(x.Data, y.Data) {
			t.Fatalf("selected tensor %d is %s, want %s with the same values", i, y.Name, x.Name)
		}
	}
	if sel.Tensors[0].Name != "t5" {
		t.Errorf("selected tensors in order %v, want keys_in_order's", sel.Names())
	}

	// corrupt a byte of t1, which is not selected
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdr := int(binary.LittleEndian.Uint64(raw)) + 8
	var e struct {
		Offsets []int `json:"data_offsets"`
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:hdr], &h); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(h["t1"], &e); err != nil {
		t.Fatal(err)
	}
	raw[hdr+e.Offsets[0]+5] ^= 0x40
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(bad, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSafetensorsSelected(bad, keep); err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupted file: %v, want a checksum mismatch naming %s", err, bad)
	}
	if _, err := ReadSafetensorsSelected(filepath.Join(t.TempDir(), "missing"), keep); err == nil {
		t.Error("missing file: no error")
	}
	if err := os.WriteFile(bad, raw[:hdr+10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSafetensorsSelected(bad, keep); err == nil {
		t.Error("truncated file: no error")
	}
}
