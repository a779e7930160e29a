package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarBatch is a small CIFAR-10 batch: CHW pixel rows and labels.
type cifarBatch struct {
	chw    [][]uint8
	labels []int
}

// makeCifarBatch builds n images whose bytes depend on the batch number k.
func makeCifarBatch(k, n int) cifarBatch {
	var b cifarBatch
	for i := 0; i < n; i++ {
		b.chw = append(b.chw, seq(cifarImageSize, 3+2*k+i, 11*k+i))
		b.labels = append(b.labels, (k+3*i)%10)
	}
	return b
}

func (b cifarBatch) binary() []byte {
	var out []byte
	for i, img := range b.chw {
		out = append(out, byte(b.labels[i]))
		out = append(out, img...)
	}
	return out
}

// pickle2 writes the batch the way Python 2's cPickle (protocol 2) wrote the official
// CIFAR-10 Python files: str keys as SHORT_BINSTRING, the numpy array through
// numpy.core.multiarray._reconstruct and BUILD, the pixels as one BINSTRING and the
// labels as a list of BININT1.
func (b cifarBatch) pickle2() []byte {
	var p bytes.Buffer
	memo := byte(1)
	put := func() { p.WriteString("q"); p.WriteByte(memo); memo++ }
	sstr := func(s string) { p.WriteByte('U'); p.WriteByte(byte(len(s))); p.WriteString(s); put() }
	p.WriteString("\x80\x02}")
	put()
	p.WriteString("(")
	sstr("data")
	p.WriteString("cnumpy.core.multiarray\n_reconstruct\n")
	put()
	p.WriteString("cnumpy\nndarray\n")
	put()
	p.WriteString("K\x00\x85")
	sstr("b")
	p.WriteString("\x87R")
	put()
	p.WriteString("(K\x01M")
	binary.Write(&p, binary.LittleEndian, uint16(len(b.chw)))
	p.WriteString("M\x00\x0c\x86")
	put()
	p.WriteString("cnumpy\ndtype\n")
	put()
	sstr("u1")
	p.WriteString("K\x00K\x01\x87R")
	put()
	p.WriteString("(K\x03")
	sstr("|")
	p.WriteString("NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T")
	var raw []byte
	for _, img := range b.chw {
		raw = append(raw, img...)
	}
	binary.Write(&p, binary.LittleEndian, uint32(len(raw)))
	p.Write(raw)
	p.WriteString("tb")
	sstr("labels")
	p.WriteString("]")
	put()
	p.WriteString("(")
	for _, l := range b.labels {
		p.WriteByte('K')
		p.WriteByte(byte(l))
	}
	p.WriteString("e")
	sstr("batch_label")
	sstr("training batch 1 of 5")
	p.WriteString("u.")
	return p.Bytes()
}

// checkCifar compares a dataset with the concatenated batches, converting CHW to HWC.
func checkCifar(t *testing.T, ds *Dataset, batches ...cifarBatch) {
	t.Helper()
	var chw [][]uint8
	var labels []int
	for _, b := range batches {
		chw = append(chw, b.chw...)
		labels = append(labels, b.labels...)
	}
	if ds.N != len(chw) || ds.H != 32 || ds.W != 32 || ds.C != 3 || len(ds.Labels) != ds.N {
		t.Fatalf("got N=%d %d×%d×%d with %d labels, want %d images", ds.N, ds.H, ds.W, ds.C, len(ds.Labels), len(chw))
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, img := range chw {
		if ds.Labels[i] != labels[i] {
			t.Fatalf("label %d = %d, want %d", i, ds.Labels[i], labels[i])
		}
		hwc := ds.At(i)
		for c := 0; c < 3; c++ {
			for y := 0; y < 32; y++ {
				for x := 0; x < 32; x++ {
					if got, want := hwc[(y*32+x)*3+c], img[c*1024+y*32+x]; got != want {
						t.Fatalf("image %d (y=%d x=%d c=%d) = %d, want %d", i, y, x, c, got, want)
					}
				}
			}
		}
	}
}

// cifarSet is five training batches and one test batch.
func cifarSet() (train []cifarBatch, test cifarBatch) {
	for k := 1; k <= 5; k++ {
		train = append(train, makeCifarBatch(k, 2))
	}
	return train, makeCifarBatch(9, 3)
}

func writeCifarDir(t *testing.T, dir string, py bool) {
	train, test := cifarSet()
	for k, b := range append(train, test) {
		name := "test_batch"
		if k < 5 {
			name = "data_batch_" + string(rune('1'+k))
		}
		if py {
			writeFile(t, filepath.Join(dir, name), b.pickle2())
		} else {
			writeFile(t, filepath.Join(dir, name+".bin"), b.binary())
		}
	}
}

func writeCifarArchive(t *testing.T, path string, py bool) {
	train, test := cifarSet()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-py/", Mode: 0o755, Typeflag: tar.TypeDir})
	add("cifar-10-batches-bin/batches.meta.txt", []byte("airplane\n"))
	// Test batch first and training batches out of order: the reader must sort them.
	order := []int{5, 2, 0, 4, 1, 3}
	all := append(train, test)
	for _, k := range order {
		name := "test_batch"
		if k < 5 {
			name = "data_batch_" + string(rune('1'+k))
		}
		if py {
			add("cifar-10-batches-py/"+name, all[k].pickle2())
		} else {
			add("cifar-10-batches-bin/"+name+".bin", all[k].binary())
		}
	}
	tw.Close()
	zw.Close()
	writeFile(t, path, buf.Bytes())
}

func TestLoadCIFAR10Layouts(t *testing.T) {
	train, test := cifarSet()
	root := t.TempDir()
	writeCifarDir(t, filepath.Join(root, "bin", cifarBinDir), false)
	writeCifarDir(t, filepath.Join(root, "py", cifarPyDir), true)
	writeCifarDir(t, filepath.Join(root, "flatpy"), true)
	writeCifarArchive(t, filepath.Join(root, "tgzbin", "cifar-10-binary.tar.gz"), false)
	writeCifarArchive(t, filepath.Join(root, "tgzpy", "cifar-10-python.tar.gz"), true)
	for _, p := range []string{
		"bin", filepath.Join("bin", cifarBinDir), "py", "flatpy",
		"tgzbin", filepath.Join("tgzbin", "cifar-10-binary.tar.gz"), filepath.Join("tgzpy", "cifar-10-python.tar.gz"),
	} {
		t.Run(p, func(t *testing.T) {
			tr, err := LoadCIFAR10(filepath.Join(root, p), "train")
			if err != nil {
				t.Fatal(err)
			}
			checkCifar(t, tr, train...)
			te, err := LoadCIFAR10(filepath.Join(root, p), "test")
			if err != nil {
				t.Fatal(err)
			}
			checkCifar(t, te, test)
		})
	}
}

func TestCIFAR10PickleFromNumpy(t *testing.T) {
	// Written by Python 3 / numpy 1.24 with protocol 2 (see testdata/README.md).
	b, err := os.ReadFile(filepath.Join("testdata", "cifar_numpy_py3_protocol2.pickle"))
	if err != nil {
		t.Fatal(err)
	}
	images, labels, err := DecodeCIFAR10Pickle(bytes.NewReader(b), "numpy", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 2 || labels[0] != 3 || labels[1] != 9 {
		t.Fatalf("labels %v", labels)
	}
	var want cifarBatch
	all := make([]uint8, 2*3072)
	for i := range all {
		all[i] = uint8((i*7 + 3) % 256)
	}
	want.chw = [][]uint8{all[:3072], all[3072:]}
	want.labels = labels
	checkCifar(t, &Dataset{Name: "numpy", Images: images, N: 2, H: 32, W: 32, C: 3, Labels: labels}, want)
}

func TestCIFAR10Errors(t *testing.T) {
	dir := t.TempDir()
	b := makeCifarBatch(1, 2)
	good := b.binary()
	bad := append([]byte(nil), good...)
	bad[cifarRecord] = 12
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short.bin", good[:len(good)-1], "not a positive multiple of the 3073-byte"},
		{"label.bin", bad, "record 1 has label 12"},
	}
	for _, tc := range cases {
		p := writeFile(t, filepath.Join(dir, tc.name), tc.b)
		_, _, err := DecodeCIFAR10Binary(tc.b, p, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	pk := b.pickle2()
	pcases := []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", pk[:len(pk)/2], "unpickling"},
		{"evil", []byte("\x80\x02cos\nsystem\nq\x00."), "os.system, which is not allowed"},
		{"notdict", []byte("\x80\x02]q\x00."), "expected a pickled dict"},
		{"nodata", []byte("\x80\x02}q\x00(U\x06labels]K\x01au."), "no 'data' entry"},
		{"wronglabels", bytes.Replace(pk, []byte("K\x01K\x04e"), []byte("K\x01K\x04K\x05e"), 1), "3 labels for 2 images"},
		{"dtype", bytes.Replace(pk, []byte("U\x02u1"), []byte("U\x02i8"), 1), `dtype "i8"`},
	}
	for _, tc := range pcases {
		_, _, err := DecodeCIFAR10Pickle(bytes.NewReader(tc.b), tc.name, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	// An archive lacking a training batch names the missing member.
	arch := filepath.Join(dir, "partial.tar.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range []string{"data_batch_1.bin", "data_batch_2.bin"} {
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + n, Mode: 0o644, Size: int64(len(good)), Typeflag: tar.TypeReg})
		tw.Write(good)
	}
	tw.Close()
	zw.Close()
	full := buf.Bytes()
	writeFile(t, arch, full)
	if _, err := LoadCIFAR10(arch, "train"); err == nil || !strings.Contains(err.Error(), "data_batch_3.bin") {
		t.Errorf("partial archive: %v", err)
	}
	if _, err := LoadCIFAR10(arch, "test"); err == nil || !strings.Contains(err.Error(), "no test batches") {
		t.Errorf("archive without test batch: %v", err)
	}
	trunc := writeFile(t, filepath.Join(dir, "trunc.tar.gz"), full[:len(full)/2])
	if _, err := LoadCIFAR10(trunc, "train"); err == nil || !strings.Contains(err.Error(), "trunc.tar.gz") {
		t.Errorf("truncated archive: %v", err)
	}
	notgz := writeFile(t, filepath.Join(dir, "plain.tar.gz"), []byte("plain text"))
	if _, err := LoadCIFAR10(notgz, "train"); err == nil || !strings.Contains(err.Error(), "not a gzip file") {
		t.Errorf("not gzip: %v", err)
	}
	if _, err := LoadCIFAR10(t.TempDir(), "train"); err == nil || !strings.Contains(err.Error(), "no train data") {
		t.Errorf("empty dir: %v", err)
	}
}
