package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file, gzip-compressed when gz is set.
func idxBytes(t *testing.T, dims []int, payload []uint8, gz bool) []byte {
	t.Helper()
	var raw bytes.Buffer
	if err := WriteIDX(&raw, dims, payload); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return raw.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func seq(n int, mul, add int) []uint8 {
	b := make([]uint8, n)
	for i := range b {
		b[i] = uint8(i*mul + add)
	}
	return b
}

func TestReadIDXRoundTrip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		imgs := seq(3*4*5, 7, 1)
		ip := writeFile(t, filepath.Join(dir, "img"), idxBytes(t, []int{3, 4, 5}, imgs, gz))
		lp := writeFile(t, filepath.Join(dir, "lab"), idxBytes(t, []int{3}, []uint8{9, 0, 4}, gz))
		ds, err := ReadIDX(ip, lp)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if ds.N != 3 || ds.H != 4 || ds.W != 5 || ds.C != 1 || !bytes.Equal(ds.Images, imgs) {
			t.Fatalf("gz=%v: got N=%d H=%d W=%d C=%d", gz, ds.N, ds.H, ds.W, ds.C)
		}
		if !bytes.Equal(ds.At(1), imgs[20:40]) || ds.Label(2) != 4 || ds.Labels[0] != 9 {
			t.Fatalf("gz=%v: wrong image or labels", gz)
		}
		// Four dimensions: [N,H,W,C].
		p4 := writeFile(t, filepath.Join(dir, "img4"), idxBytes(t, []int{2, 2, 2, 3}, seq(24, 1, 0), gz))
		d4, err := ReadIDXImages(p4)
		if err != nil || d4.C != 3 || d4.N != 2 {
			t.Fatalf("4-D IDX: %v %+v", err, d4)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes(t, []int{3, 4, 5}, seq(60, 3, 0), false)
	goodGz := idxBytes(t, []int{3, 4, 5}, seq(60, 3, 0), true)
	badGz := append([]byte(nil), goodGz...)
	badGz[len(badGz)-6] ^= 0xff // corrupt the CRC-32 trailer
	cases := []struct {
		name string
		b    []byte
		want []string
	}{
		{"empty", nil, []string{"too short"}},
		{"badmagic", append([]byte{1, 2}, good[2:]...), []string{"not an IDX file", "found 01 02"}},
		{"float", append([]byte{0, 0, 0x0d}, good[3:]...), []string{"0x0d", "expected 0x08"}},
		{"truncated", good[:len(good)-7], []string{"truncated", "60 data bytes", "found only 53"}},
		{"trailing", append(append([]byte(nil), good...), 1, 2), []string{"2 unexpected bytes"}},
		{"shortheader", good[:10], []string{"truncated IDX header"}},
		{"gz-truncated", goodGz[:len(goodGz)-30], []string{"gz-truncated"}},
		{"gz-badcrc", badGz, []string{"gz-badcrc", "corrupt"}},
		{"zero-size", idxBytes(t, []int{2, 0, 5}, nil, false), []string{"zero image size"}},
		{"labels-as-images", idxBytes(t, []int{3}, []uint8{1, 2, 3}, false), []string{"expected 3 ([N,H,W])"}},
	}
	for _, tc := range cases {
		p := writeFile(t, filepath.Join(dir, tc.name), tc.b)
		_, err := ReadIDXImages(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range append(tc.want, p) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
	// Label count mismatch names both files.
	ip := writeFile(t, filepath.Join(dir, "i"), good)
	lp := writeFile(t, filepath.Join(dir, "l"), idxBytes(t, []int{2}, []uint8{1, 2}, true))
	if _, err := ReadIDX(ip, lp); err == nil || !strings.Contains(err.Error(), "2 labels") || !strings.Contains(err.Error(), "3 images") {
		t.Errorf("label mismatch: %v", err)
	}
	if _, err := ReadIDXLabels(ip); err == nil || !strings.Contains(err.Error(), "expected 1 ([N])") {
		t.Errorf("images as labels: %v", err)
	}
	if _, err := ReadIDXImages(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestLoadMNIST(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "MNIST", "raw")
	writeFile(t, filepath.Join(raw, "train-images-idx3-ubyte.gz"), idxBytes(t, []int{2, 28, 28}, seq(2*784, 1, 0), true))
	writeFile(t, filepath.Join(raw, "train-labels-idx1-ubyte.gz"), idxBytes(t, []int{2}, []uint8{5, 6}, true))
	writeFile(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), idxBytes(t, []int{1, 28, 28}, seq(784, 3, 0), false))
	tr, err := LoadMNIST(dir, "train")
	if err != nil || tr.N != 2 || tr.Labels[1] != 6 {
		t.Fatalf("train: %v", err)
	}
	te, err := LoadMNIST(dir, "valid")
	if err != nil || te.N != 1 || te.Labels != nil {
		t.Fatalf("test without labels: %v %+v", err, te)
	}
	if _, err := LoadMNIST(t.TempDir(), "train"); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Errorf("missing files: %v", err)
	}
	if _, err := LoadMNIST(dir, "bogus"); err == nil {
		t.Error("bad split accepted")
	}
}

func TestDatasetSliceValidate(t *testing.T) {
	ds := &Dataset{Name: "x", Images: seq(4*6, 1, 0), N: 4, H: 2, W: 3, C: 1, Labels: []int{0, 1, 2, 3}}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := ds.Slice(1, 3)
	if err != nil || s.N != 2 || s.At(0)[0] != 6 || s.Label(1) != 2 {
		t.Fatalf("slice: %v %+v", err, s)
	}
	if _, err := ds.Slice(2, 5); err == nil {
		t.Error("out-of-range slice accepted")
	}
	bad := *ds
	bad.Images = bad.Images[:5]
	if bad.Validate() == nil {
		t.Error("short images accepted")
	}
	bad = *ds
	bad.Labels = bad.Labels[:1]
	if bad.Validate() == nil {
		t.Error("short labels accepted")
	}
	if (&Dataset{N: 1, H: 1, W: 1, C: 1, Images: []uint8{1}}).Label(0) != -1 {
		t.Error("Label without labels should be -1")
	}
}
