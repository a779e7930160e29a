package report

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// pixel value used for image i, row y, column x, channel ch: distinct for every
// (i, y, x, ch) of the tiny test batches and exactly representable after rounding.
func code(i, y, x, ch int) float32 { return float32(i*27+y*9+x*3+ch) / 255 }

func batch(n, h, w, c int) *tensor.Tensor {
	t := tensor.New(n, h, w, c)
	d := t.Data()
	for i := range n {
		for y := range h {
			for x := range w {
				for ch := range c {
					d[((i*h+y)*w+x)*c+ch] = code(i, y, x, ch)
				}
			}
		}
	}
	return t
}

func TestGridPlacement(t *testing.T) {
	tests := []struct {
		name               string
		n, h, w, c         int
		nrow, pad          int
		wantW, wantH, cols int
	}{
		{"2x2 rgb", 4, 2, 3, 3, 2, 0, 6, 4, 2},
		{"2x2 grey", 4, 2, 3, 1, 2, 0, 6, 4, 2},
		{"auto nrow", 4, 2, 2, 3, 0, 0, 4, 4, 2},
		{"3 per row, ragged", 5, 1, 2, 3, 3, 0, 6, 2, 3},
		{"padded", 3, 2, 2, 3, 2, 1, 7, 7, 2},
		{"single row", 3, 2, 2, 1, 8, 2, 14, 6, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := GridPad(batch(tc.n, tc.h, tc.w, tc.c), tc.nrow, tc.pad)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
				t.Fatalf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.wantW, tc.wantH)
			}
			covered := map[image.Point]bool{}
			for i := range tc.n {
				r, col := i/tc.cols, i%tc.cols
				for y := range tc.h {
					for x := range tc.w {
						px := tc.pad + col*(tc.w+tc.pad) + x
						py := tc.pad + r*(tc.h+tc.pad) + y
						covered[image.Pt(px, py)] = true
						got := img.NRGBAAt(px, py)
						var want color.NRGBA
						if tc.c == 1 {
							g := uint8(i*27 + y*9 + x*3)
							want = color.NRGBA{g, g, g, 255}
						} else {
							want = color.NRGBA{uint8(i*27 + y*9 + x*3), uint8(i*27 + y*9 + x*3 + 1), uint8(i*27 + y*9 + x*3 + 2), 255}
						}
						if got != want {
							t.Fatalf("image %d (%d,%d) at (%d,%d): got %v want %v", i, y, x, px, py, got, want)
						}
					}
				}
			}
			// Everything else (padding, empty cells) is opaque black.
			for py := range tc.wantH {
				for px := range tc.wantW {
					if !covered[image.Pt(px, py)] {
						if got := img.NRGBAAt(px, py); got != (color.NRGBA{0, 0, 0, 255}) {
							t.Fatalf("background (%d,%d) = %v", px, py, got)
						}
					}
				}
			}
		})
	}
}

func TestGridClamp(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	vals := []float32{-0.5, 0, 0.5, 1, 1.5, nan, inf, -inf, 1.0 / 255, 0.499 / 255}
	want := []uint8{0, 0, 128, 255, 255, 0, 255, 0, 1, 0}
	img, err := Grid(tensor.FromData(vals, 1, 1, len(vals), 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	for x, w := range want {
		if got := img.NRGBAAt(x, 0); got.R != w || got.G != w || got.B != w || got.A != 255 {
			t.Errorf("value %v: got %v want grey %d", vals[x], got, w)
		}
	}
}

func TestGridErrors(t *testing.T) {
	bad := []*tensor.Tensor{
		nil,
		tensor.New(2, 2, 2),
		tensor.New(1, 2, 2, 2),
		tensor.New(1, 2, 2, 4),
		tensor.New(0, 2, 2, 3),
	}
	for _, b := range bad {
		if _, err := Grid(b, 1); err == nil {
			t.Errorf("shape %v: no error", b)
		}
	}
	if _, err := GridPad(tensor.New(1, 2, 2, 3), 1, -1); err == nil {
		t.Error("negative pad: no error")
	}
	if _, err := ReconGrid(tensor.New(2, 2, 2, 3), tensor.New(2, 2, 2, 1), 1, 0); err == nil {
		t.Error("recon shape mismatch: no error")
	}
}

func TestReconGrid(t *testing.T) {
	in := batch(4, 2, 2, 3)
	out := tensor.New(4, 2, 2, 3)
	out.Fill(1)
	img, err := ReconGrid(in, out, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 8 || b.Dy() != 4 {
		t.Fatalf("size %v", b)
	}
	left, _ := Grid(in, 2)
	for y := range 4 {
		for x := range 4 {
			if img.NRGBAAt(x, y) != left.NRGBAAt(x, y) {
				t.Fatalf("left half differs at (%d,%d)", x, y)
			}
			if got := img.NRGBAAt(x+4, y); got != (color.NRGBA{255, 255, 255, 255}) {
				t.Fatalf("right half (%d,%d) = %v", x+4, y, got)
			}
		}
	}
}

func TestSavePNG(t *testing.T) {
	dir := t.TempDir()
	img, err := Grid(batch(4, 2, 3, 3), 2)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "grid.png")
	for range 2 { // second save replaces the first
		if err := SavePNG(path, img); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 4 {
		for x := range 6 {
			r1, g1, b1, a1 := back.At(x, y).RGBA()
			r2, g2, b2, a2 := img.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel (%d,%d) changed in PNG round trip", x, y)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := SavePNG(filepath.Join(dir, "missing", "x.png"), img); err == nil {
		t.Error("save into missing directory: no error")
	}
}
