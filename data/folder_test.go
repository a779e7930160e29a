package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// patternRGB builds the w×h test image whose pixels are
// ((x·73856093) ^ (y·19349663) ^ (c·83492791)) & 255, the same formula used to make
// the PIL reference outputs in testdata/pil.
func patternRGB(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v [3]uint8
			for c := range v {
				v[c] = uint8(((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) & 255)
			}
			img.SetRGBA(x, y, color.RGBA{v[0], v[1], v[2], 255})
		}
	}
	return img
}

func readPIL(t *testing.T, name string) []uint8 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pil", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPrepareFolderImageMatchesPIL(t *testing.T) {
	cases := []struct {
		file string
		w, h int
		opts FolderOptions
	}{
		{"rgb41x29_crop_resize16.bin", 41, 29, FolderOptions{Size: 16, Channels: 3}},
		{"rgb41x29_L_crop_resize16.bin", 41, 29, FolderOptions{Size: 16, Channels: 1}},
		{"rgb23x23_resize40.bin", 23, 23, FolderOptions{Size: 40, Channels: 3}},
		{"rgb178x218_celeba64.bin", 178, 218, FolderOptions{Size: 64, Channels: 3, CelebA64Crop: true}},
		{"rgb30x45_crop_resize13.bin", 30, 45, FolderOptions{Size: 13, Channels: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			want := readPIL(t, tc.file)
			got, err := prepareFolderImage(patternRGB(tc.w, tc.h), "pattern", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
			diff := 0
			for i := range got {
				if got[i] != want[i] {
					diff++
					if diff < 5 {
						t.Errorf("byte %d: got %d, PIL %d", i, got[i], want[i])
					}
				}
			}
			if diff > 0 {
				t.Errorf("%d of %d bytes differ from PIL", diff, len(got))
			}
		})
	}
}

func TestGreyMatchesPIL(t *testing.T) {
	want := readPIL(t, "rgb41x29_L.bin")
	got, w, h := imageToBytes(patternRGB(41, 29), 1)
	if w != 41 || h != 29 || !bytes.Equal(got, want) {
		t.Fatalf("grey conversion differs from PIL's convert('L')")
	}
}

func TestResizeKnownValues(t *testing.T) {
	// 4 → 2: output 0 reads inputs 0..2 with weights 3/7, 3/7, 1/7, output 1 reads 1..3
	// with 1/7, 3/7, 3/7.
	got := resizeBilinear([]uint8{0, 70, 140, 210}, 1, 4, 1, 1, 2)
	if got[0] != 50 || got[1] != 160 {
		t.Fatalf("got %v, want [50 160]", got)
	}
	// Same size: identity (and no copy).
	src := []uint8{1, 2, 3, 4, 5, 6}
	if out := resizeBilinear(src, 2, 3, 1, 2, 3); &out[0] != &src[0] {
		t.Fatal("same-size resize should return its input")
	}
	// Constant images stay constant at any scale.
	flat := bytes.Repeat([]uint8{77, 200, 3}, 17*11)
	for _, s := range []int{1, 5, 11, 30} {
		out := resizeBilinear(flat, 17, 11, 3, s, s)
		for i, v := range out {
			if v != flat[i%3] {
				t.Fatalf("size %d: byte %d = %d, want %d", s, i, v, flat[i%3])
			}
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	// b/ sorts after a.png: the order is lexical by path.
	writePNG(t, filepath.Join(dir, "b", "c", "deep.png"), patternRGB(41, 29))
	grey := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 3)
	}
	writePNG(t, filepath.Join(dir, "a.png"), grey)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, patternRGB(20, 20), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b", "z.JPG"), jb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}

	ds, err := LoadFolder(dir, FolderOptions{Size: 16, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds.N != 3 || ds.H != 16 || ds.W != 16 || ds.C != 3 || ds.Labels != nil {
		t.Fatalf("got N=%d %d×%d×%d labels=%v", ds.N, ds.H, ds.W, ds.C, ds.Labels)
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	// a.png: grey 8×8 upsampled; all three channels equal.
	a := ds.At(0)
	for p := 0; p < 256; p++ {
		if a[3*p] != a[3*p+1] || a[3*p] != a[3*p+2] {
			t.Fatalf("grey image pixel %d not grey: %v", p, a[3*p:3*p+3])
		}
	}
	if !bytes.Equal(ds.At(1), readPIL(t, "rgb41x29_crop_resize16.bin")) {
		t.Fatal("b/c/deep.png differs from the PIL reference")
	}

	g, err := LoadFolder(dir, FolderOptions{Size: 8, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g.C != 1 || !bytes.Equal(g.At(0), grey.Pix) {
		t.Fatal("grey 8×8 image at size 8 should come back unchanged")
	}
}

func TestLoadFolderErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := LoadFolder(empty, FolderOptions{Size: 8}); err == nil || !strings.Contains(err.Error(), "no .png") {
		t.Errorf("empty folder: %v", err)
	}
	bad := t.TempDir()
	writePNG(t, filepath.Join(bad, "ok.png"), patternRGB(4, 4))
	if err := os.WriteFile(filepath.Join(bad, "broken.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFolder(bad, FolderOptions{Size: 4}); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("corrupt file: error should name it: %v", err)
	}
	small := t.TempDir()
	writePNG(t, filepath.Join(small, "s.png"), patternRGB(100, 100))
	if _, err := LoadFolder(small, FolderOptions{CelebA64Crop: true}); err == nil || !strings.Contains(err.Error(), "s.png") {
		t.Errorf("CelebA crop on a small image: %v", err)
	}
	if _, err := LoadFolder(small, FolderOptions{Size: 4, Channels: 2}); err == nil {
		t.Error("Channels 2 accepted")
	}
	if _, err := LoadFolder(small, FolderOptions{}); err == nil {
		t.Error("Size 0 accepted without CelebA64Crop")
	}
}
