package tensorfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
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
