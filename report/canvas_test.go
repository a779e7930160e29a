package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// TestCanvasMatchesGrid: filling a canvas batch by batch gives exactly the image
// GridPad / ReconGrid draw from the whole set at once.
func TestCanvasMatchesGrid(t *testing.T) {
	for _, c := range []struct{ n, h, w, ch, nrow, pad, batch int }{
		{7, 3, 2, 1, 0, 0, 3}, {10, 2, 3, 3, 4, 1, 4}, {5, 2, 2, 3, 5, 2, 1}, {9, 4, 4, 1, 0, 1, 9},
	} {
		data := make([]float32, c.n*c.h*c.w*c.ch)
		for i := range data {
			data[i] = float32((i*37)%101) / 100
		}
		all := tensor.FromData(data, c.n, c.h, c.w, c.ch)
		want, err := GridPad(all, c.nrow, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		cv, err := NewCanvas(c.n, c.h, c.w, c.ch, c.nrow, c.pad, 1)
		if err != nil {
			t.Fatal(err)
		}
		per := c.h * c.w * c.ch
		for first := 0; first < c.n; first += c.batch {
			k := min(c.batch, c.n-first)
			if err := cv.Put(0, first, tensor.FromData(data[first*per:(first+k)*per], k, c.h, c.w, c.ch)); err != nil {
				t.Fatal(err)
			}
		}
		if got := cv.Image(); got.Bounds() != want.Bounds() || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%+v: canvas differs from GridPad", c)
		}
		// two panels: ReconGrid
		wantR, err := ReconGrid(all, all, c.nrow, c.pad)
		if err != nil {
			t.Fatal(err)
		}
		cv2, _ := NewCanvas(c.n, c.h, c.w, c.ch, c.nrow, c.pad, 2)
		for p := 0; p < 2; p++ {
			if err := cv2.Put(p, 0, all); err != nil {
				t.Fatal(err)
			}
		}
		if got := cv2.Image(); got.Bounds() != wantR.Bounds() || !bytes.Equal(got.Pix, wantR.Pix) {
			t.Errorf("%+v: two-panel canvas differs from ReconGrid", c)
		}
	}
}

func TestCanvasLimits(t *testing.T) {
	if _, err := NewCanvas(100000000, 32, 32, 1, 0, 0, 1); err == nil || !strings.Contains(err.Error(), "pixel limit") {
		t.Errorf("a grid of 1e8 images: %v, want the pixel limit error", err)
	}
	cv, err := NewCanvas(4, 2, 2, 1, 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := cv.Put(0, 3, tensor.New(2, 2, 2, 1)); err == nil {
		t.Error("a batch past the last image was accepted")
	}
	if err := cv.Put(0, 0, tensor.New(1, 3, 2, 1)); err == nil {
		t.Error("a batch of the wrong image size was accepted")
	}
}
