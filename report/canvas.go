package report

import (
	"fmt"
	"image"
	"math"

	"github.com/nvae-go/nvae/tensor"
)

// MaxGridPixels bounds the image a Canvas builds (2^26 pixels, 256 MiB of RGBA: e.g.
// 65 536 images of 32×32); NewCanvas refuses larger grids with an error that says so.
const MaxGridPixels = 1 << 26

// Canvas is a grid image filled batch by batch, so that drawing n images never holds
// more than one batch of them: the layout of GridPad (image i at grid row i/nrow,
// column i%nrow, pad black pixels around cells), repeated in panels side by side (two
// panels give ReconGrid's inputs | outputs).
type Canvas struct {
	img               *image.NRGBA
	n, h, w, c        int
	nrow, pad, panelW int
	panels            int
}

// NewCanvas prepares a black grid for n images of h×w×c (c = 1 or 3) in the given
// number of panels; nrow <= 0 picks ceil(sqrt(n)) images per row.
func NewCanvas(n, h, w, c, nrow, pad, panels int) (*Canvas, error) {
	if n <= 0 || h <= 0 || w <= 0 || panels <= 0 {
		return nil, fmt.Errorf("report: canvas: want positive sizes, got %d images of %d×%d in %d panels", n, h, w, panels)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("report: canvas: want 1 (grey) or 3 (RGB) channels, got %d", c)
	}
	if pad < 0 {
		return nil, fmt.Errorf("report: canvas: negative padding %d", pad)
	}
	if nrow <= 0 {
		nrow = int(math.Ceil(math.Sqrt(float64(n))))
	}
	cols := min(nrow, n)
	rows := (n + nrow - 1) / nrow
	panelW := cols*(w+pad) + pad
	width, height := float64(panelW)*float64(panels), float64(rows*(h+pad)+pad)
	if width*height > MaxGridPixels {
		return nil, fmt.Errorf("a grid of %d images of %d×%d would be %.0f×%.0f pixels, more than the %d-pixel limit of one image (%d MiB); draw fewer images",
			n, w, h, width, height, MaxGridPixels, MaxGridPixels*4>>20)
	}
	img := image.NewNRGBA(image.Rect(0, 0, int(width), int(height)))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return &Canvas{img: img, n: n, h: h, w: w, c: c, nrow: nrow, pad: pad, panelW: panelW, panels: panels}, nil
}

// Put draws a batch of NHWC images [B,h,w,c] in [0,1] as images first … first+B−1 of
// the panel.
func (cv *Canvas) Put(panel, first int, batch *tensor.Tensor) error {
	sh := batch.Shape()
	if len(sh) != 4 || sh[1] != cv.h || sh[2] != cv.w || sh[3] != cv.c {
		return fmt.Errorf("report: canvas of %d×%d×%d images: got a batch of shape %v", cv.h, cv.w, cv.c, sh)
	}
	if panel < 0 || panel >= cv.panels || first < 0 || first+sh[0] > cv.n {
		return fmt.Errorf("report: canvas: images %d..%d of panel %d are outside %d images in %d panels", first, first+sh[0]-1, panel, cv.n, cv.panels)
	}
	h, w, c := cv.h, cv.w, cv.c
	data := batch.Data()
	out := cv.img
	for b := range sh[0] {
		i := first + b
		r, col := i/cv.nrow, i%cv.nrow
		x0, y0 := panel*cv.panelW+cv.pad+col*(w+cv.pad), cv.pad+r*(h+cv.pad)
		img := data[b*h*w*c : (b+1)*h*w*c]
		for y := range h {
			row := out.Pix[(y0+y)*out.Stride+x0*4:]
			src := img[y*w*c : (y+1)*w*c]
			for x := range w {
				p := row[x*4 : x*4+4]
				if c == 1 {
					g := toByte(src[x])
					p[0], p[1], p[2] = g, g, g
				} else {
					p[0], p[1], p[2] = toByte(src[x*3]), toByte(src[x*3+1]), toByte(src[x*3+2])
				}
				p[3] = 255
			}
		}
	}
	return nil
}

// Image returns the grid drawn so far.
func (cv *Canvas) Image() *image.NRGBA { return cv.img }
