package tensorfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The fuzz targets check that no input makes a reader panic or allocate beyond
// what the input holds (the fuzzer fails on panics; a huge allocation shows as a
// crash or an out-of-memory). `.ci/run` runs each for a few seconds; locally:
//
//	go test -run '^$' -fuzz '^FuzzReadSafetensors$' -fuzztime 60s ./tensorfile

// FuzzReadSafetensors feeds arbitrary bytes to the safetensors reader. A file it
// accepts must encode again and read back to the same tensors.
func FuzzReadSafetensors(f *testing.F) {
	add := func(ts []Named, md map[string]string) {
		var b bytes.Buffer
		if err := EncodeSafetensors(&b, ts, md); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	add([]Named{{Name: "a", Shape: []int{2, 2}, Data: []float32{1, -2, 3.5, 0}}}, map[string]string{"k": "v"})
	add([]Named{
		{Name: "h", Shape: []int{2}, DType: F16, Data: []float32{1, -2}},
		{Name: "b", Shape: []int{}, DType: BF16, Data: []float32{3}},
		{Name: "n", Shape: []int{1}, DType: I64, Data: []float32{-7}},
		{Name: "u", Shape: []int{3}, DType: U8, Data: []float32{0, 1, 255}},
		{Name: "e", Shape: []int{0, 3}, Data: []float32{}},
	}, nil)
	f.Add(rawSafetensors(`{"__metadata__":{"keys_in_order":"[\"b\",\"a\"]"},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[1],"data_offsets":[8,9]}}`, make([]byte, 9)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadSafetensorsBytes("fuzz", data)
		// the reader of selected tensors agrees: the same error or the same tensors
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if werr := os.WriteFile(path, data, 0o644); werr != nil {
			t.Fatal(werr)
		}
		sel, serr := ReadSafetensorsSelected(path, func(string) bool { return true })
		if (err == nil) != (serr == nil) {
			t.Fatalf("reading all bytes: %v; reading selected tensors: %v", err, serr)
		}
		if err != nil {
			return
		}
		if len(sel.Tensors) != len(file.Tensors) {
			t.Fatalf("%d selected tensors, want %d", len(sel.Tensors), len(file.Tensors))
		}
		for i, x := range file.Tensors {
			y := sel.Tensors[i]
			if x.Name != y.Name || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !sameBits(x.Data, y.Data) {
				t.Fatalf("tensor %d: %s %s %v read whole, %s %s %v read selected", i, x.Name, x.DType, x.Shape, y.Name, y.DType, y.Shape)
			}
		}
		var b bytes.Buffer
		if err := EncodeSafetensors(&b, file.Tensors, file.Metadata); err != nil {
			return // e.g. a NaN stored as I64 cannot be written again
		}
		again, err := ReadSafetensorsBytes("again", b.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not read: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors after re-encoding, want %d", len(again.Tensors), len(file.Tensors))
		}
	})
}

// smallTorchPickle is a torch.save-like pickle: {"state_dict": OrderedDict(w=tensor), "epoch": 3}.
func smallTorchPickle() []byte {
	var p pickler
	p.op(0x80, 2, '}', '(')
	p.str("state_dict").global("collections", "OrderedDict").op(')', 'R', '(')
	p.str("w").tensor("FloatStorage", "0", 4, 0, []int{2, 2}, []int{2, 1})
	p.str("n").tensor("LongStorage", "1", 1, 0, []int{}, []int{})
	p.op('u')
	p.str("args").global("argparse", "Namespace").op(')', 0x81, '}', '(').str("lr").float(0.5).op('u', 'b')
	p.str("epoch").int(3)
	p.op('u', '.')
	return p.Bytes()
}

// torchZip packs a data.pkl and the storages of smallTorchPickle into a torch.save zip.
func torchZip(tb testing.TB, pkl []byte) []byte {
	recs := map[string][]byte{
		"archive/data.pkl": pkl,
		"archive/data/0":   f32Bytes(1, 2, 3, 4),
		"archive/data/1":   binary.LittleEndian.AppendUint64(nil, 9),
		"archive/version":  []byte("3\n"),
	}
	return makeZip(tb, []string{"archive/data.pkl", "archive/data/0", "archive/data/1", "archive/version"}, recs)
}

// FuzzReadTorch feeds arbitrary bytes to the .pt reader: the zip layer (records,
// CRCs, byte order) and what follows.
func FuzzReadTorch(f *testing.F) {
	f.Add(torchZip(f, smallTorchPickle()))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadTorchBytes("fuzz.pt", data)
	})
}

// FuzzReadTorchPickle feeds arbitrary bytes as the data.pkl of a well-formed zip,
// so that the mutations reach the unpickler and the interpretation of the objects
// (storages, views, state dicts) instead of failing the zip's CRC checks.
func FuzzReadTorchPickle(f *testing.F) {
	f.Add(smallTorchPickle())
	if b, err := os.ReadFile("testdata/f1_checkpoint.pt"); err == nil {
		// the pickle of the official checkpoint, without its storages
		if _, recs := zipRecords(f, b); recs != nil {
			for name, r := range recs {
				if len(name) > 8 && name[len(name)-8:] == "data.pkl" {
					f.Add(r)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		_, _ = ReadTorchBytes("fuzz.pt", torchZip(t, pkl))
	})
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
