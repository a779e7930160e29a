package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	for _, c := range []struct {
		split string
		n     int
	}{{"train", 4000}, {"test", 1000}, {"valid", 1000}} {
		ds, err := Embedded(c.split)
		if err != nil {
			t.Fatal(err)
		}
		if ds.N != c.n || ds.H != 28 || ds.W != 28 || ds.C != 1 || len(ds.Labels) != c.n {
			t.Fatalf("%s: N=%d %d×%d×%d, %d labels", c.split, ds.N, ds.H, ds.W, ds.C, len(ds.Labels))
		}
		counts := make([]int, 10)
		for _, l := range ds.Labels {
			counts[l]++
		}
		for k, n := range counts {
			// Fashion-MNIST classes are balanced; any prefix this long holds each class.
			if n < c.n/20 {
				t.Errorf("%s: class %d has only %d images", c.split, k, n)
			}
		}
	}
	if _, err := Embedded("nope"); err == nil {
		t.Error("bad split accepted")
	}
	// When Debian's copy is installed, the embedded images are its first ones.
	if _, err := os.Stat(DefaultFashionMNISTDir); err == nil {
		full, err := Open("fashion_mnist", "", "test", Options{})
		if err != nil {
			t.Fatal(err)
		}
		emb, _ := Embedded("test")
		head, _ := full.Slice(0, emb.N)
		if string(head.Images) != string(emb.Images) {
			t.Error("embedded test images differ from the first Fashion-MNIST test images")
		}
	}
}

func TestOpen(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "m", "t10k-images-idx3-ubyte.gz"), idxBytes(t, []int{2, 28, 28}, seq(2*784, 1, 0), true))
	writeCifarDir(t, filepath.Join(root, "c", cifarBinDir), false)
	writePNG(t, filepath.Join(root, "f", "train", "x.png"), patternRGB(10, 10))
	writePNG(t, filepath.Join(root, "f", "val", "y.png"), patternRGB(10, 12))
	writePNG(t, filepath.Join(root, "g", "only.png"), patternRGB(10, 10))
	writePNG(t, filepath.Join(root, "celeba", "valid", "c.png"), patternRGB(178, 218))
	cases := []struct {
		name, dir, split string
		opts             Options
		wantName         string
		n, h, c          int
	}{
		{"mnist", "m", "test", Options{}, "mnist/test", 2, 28, 1},
		{"fashion-mnist", "m", "valid", Options{}, "fashion_mnist/test", 2, 28, 1},
		{"cifar10", "c", "train", Options{}, "cifar10/train", 10, 32, 3},
		{"folder", "f", "train", Options{Folder: FolderOptions{Size: 5}}, "folder/train", 1, 5, 3},
		{"folder", "f", "test", Options{Folder: FolderOptions{Size: 5, Channels: 1}}, "folder/test", 1, 5, 1},
		{"folder", "g", "train", Options{Folder: FolderOptions{Size: 5}}, "folder/train", 1, 5, 3},
		{"celeba_64", "celeba", "test", Options{}, "celeba_64/test", 1, 64, 3},
		{"embedded", "", "train", Options{}, "embedded/train", 4000, 28, 1},
	}
	for _, c := range cases {
		dir := ""
		if c.dir != "" {
			dir = filepath.Join(root, c.dir)
		}
		ds, err := Open(c.name, dir, c.split, c.opts)
		if err != nil {
			t.Errorf("%s %s: %v", c.name, c.split, err)
			continue
		}
		if ds.Name != c.wantName || ds.N != c.n || ds.H != c.h || ds.W != c.h || ds.C != c.c {
			t.Errorf("%s %s: %s N=%d %d×%d×%d", c.name, c.split, ds.Name, ds.N, ds.H, ds.W, ds.C)
		}
	}
	if _, err := Open("folder", filepath.Join(root, "g"), "test", Options{Folder: FolderOptions{Size: 5}}); err == nil ||
		!strings.Contains(err.Error(), "no test/") {
		t.Errorf("folder test split without a test directory: %v", err)
	}
	if _, err := Open("imagenet_32", root, "train", Options{}); err == nil || !strings.Contains(err.Error(), "unknown dataset") {
		t.Errorf("unknown dataset: %v", err)
	}
	if _, err := Open("mnist", filepath.Join(root, "m"), "train", Options{}); err == nil {
		t.Error("missing train files accepted")
	}
}

// TestOpenFor: a folder source is cropped and resized to the model's input, and the
// other sources keep their own shapes.
func TestOpenFor(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "train", "a.png"), patternRGB(10, 12))
	for _, c := range []struct {
		name, dir           string
		size, ch            int
		wantH, wantW, wantC int
	}{
		{"folder", root, 8, 1, 8, 8, 1},
		{"folder", root, 6, 3, 6, 6, 3},
		{"embedded", "", 32, 3, 28, 28, 1},
	} {
		ds, err := OpenFor(c.name, c.dir, "train", c.size, c.ch)
		if err != nil {
			t.Fatalf("%s %d×%d: %v", c.name, c.size, c.ch, err)
		}
		if ds.H != c.wantH || ds.W != c.wantW || ds.C != c.wantC {
			t.Errorf("%s for %d×%d×%d: images %d×%d×%d, want %d×%d×%d", c.name, c.size, c.size, c.ch, ds.H, ds.W, ds.C, c.wantH, c.wantW, c.wantC)
		}
	}
	if _, err := OpenFor("nope", "", "train", 8, 1); err == nil {
		t.Error("unknown source accepted")
	}
}

// TestEvalLoader: the evaluation loader covers every image once, in order (no shuffle,
// the last batch kept), with the dataset's official test-time preprocessing.
func TestEvalLoader(t *testing.T) {
	ds, err := Embedded("test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := EvalLoader(ds, "mnist", 8, 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := l.State()
	if l.BatchesPerEpoch() != 4 || st.Shuffle || st.DropLast {
		t.Errorf("%d batches per epoch, shuffle %v, drop last %v; want 4, false, false", l.BatchesPerEpoch(), st.Shuffle, st.DropLast)
	}
	if s := l.ImageShape(); s != [3]int{32, 32, 1} {
		t.Errorf("image shape %v, want the padded MNIST input [32 32 1]", s)
	}
	b, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for _, v := range b.X.Data() {
		if v != 0 && v != 1 {
			t.Fatalf("value %v: MNIST evaluation images are binarised", v)
		}
	}
	// the source's own preprocessing comes first; a source without one falls back to
	// the dataset's, and an unknown dataset is then named in the error
	if _, err := EvalLoader(ds, "nope", 8, 10, 1); err != nil {
		t.Errorf("embedded source with an unknown dataset: %v, want the source's transform", err)
	}
	anon := &Dataset{Name: "mine/test", Images: ds.Images[:2*ds.ImageSize()], N: 2, H: ds.H, W: ds.W, C: ds.C}
	if _, err := EvalLoader(anon, "nope", 8, 10, 1); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown source and dataset: err = %v", err)
	}
}
