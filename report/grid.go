package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"github.com/nvae-go/nvae/tensor"
)

// Grid tiles a batch of NHWC images [N, H, W, C] with values in [0, 1] (C = 1 grey or
// C = 3 RGB) into one image without padding, like the official tile(): image r·nrow + c
// goes to grid row r, column c. nrow is the number of images per grid row; nrow <= 0
// picks ceil(sqrt(N)). Cells of an incomplete last row stay black.
//
// Values are clamped to [0, 1] and rounded to the nearest of 256 levels (NaN maps to 0).
func Grid(images *tensor.Tensor, nrow int) (*image.NRGBA, error) {
	return GridPad(images, nrow, 0)
}

// GridPad is Grid with pad black pixels around every cell (between neighbouring cells
// and along the outer border, as torchvision's make_grid). pad = 0 gives Grid.
func GridPad(images *tensor.Tensor, nrow, pad int) (*image.NRGBA, error) {
	if images == nil {
		return nil, fmt.Errorf("report: grid: nil image tensor")
	}
	sh := images.Shape()
	if len(sh) != 4 {
		return nil, fmt.Errorf("report: grid: want NHWC images [N,H,W,C], got shape %v", sh)
	}
	n, h, w, c := sh[0], sh[1], sh[2], sh[3]
	if n <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("report: grid: empty image batch %v", sh)
	}
	if c != 1 && c != 3 {
		return nil, fmt.Errorf("report: grid: want 1 (grey) or 3 (RGB) channels, got %d", c)
	}
	if pad < 0 {
		return nil, fmt.Errorf("report: grid: negative padding %d", pad)
	}
	if nrow <= 0 {
		nrow = int(math.Ceil(math.Sqrt(float64(n))))
	}
	cols := min(nrow, n)
	rows := (n + nrow - 1) / nrow
	out := image.NewNRGBA(image.Rect(0, 0, cols*(w+pad)+pad, rows*(h+pad)+pad))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.NRGBA{A: 255}), image.Point{}, draw.Src)

	data := images.Data()
	for i := range n {
		r, col := i/nrow, i%nrow
		x0, y0 := pad+col*(w+pad), pad+r*(h+pad)
		img := data[i*h*w*c : (i+1)*h*w*c]
		for y := range h {
			row := out.Pix[(y0+y)*out.Stride+x0*4:]
			src := img[y*w*c : (y+1)*w*c]
			for x := range w {
				p := row[x*4 : x*4+4]
				if c == 1 {
					g := toByte(src[x])
					p[0], p[1], p[2] = g, g, g
				} else {
					p[0] = toByte(src[x*3])
					p[1] = toByte(src[x*3+1])
					p[2] = toByte(src[x*3+2])
				}
				p[3] = 255
			}
		}
	}
	return out, nil
}

// ReconGrid tiles inputs and their reconstructions (both NHWC [N,H,W,C] in [0,1], same
// shape) as two grids concatenated along the width, inputs on the left, as the
// official "reconstruction" image. nrow and pad are as in GridPad.
func ReconGrid(inputs, outputs *tensor.Tensor, nrow, pad int) (*image.NRGBA, error) {
	if inputs == nil || outputs == nil {
		return nil, fmt.Errorf("report: recon grid: nil image tensor")
	}
	if !tensor.SameShape(inputs.Shape(), outputs.Shape()) {
		return nil, fmt.Errorf("report: recon grid: inputs %v and outputs %v differ in shape",
			inputs.Shape(), outputs.Shape())
	}
	a, err := GridPad(inputs, nrow, pad)
	if err != nil {
		return nil, fmt.Errorf("report: recon grid inputs: %w", err)
	}
	b, err := GridPad(outputs, nrow, pad)
	if err != nil {
		return nil, fmt.Errorf("report: recon grid outputs: %w", err)
	}
	return ConcatWidth(a, b), nil
}

// ConcatWidth places images side by side, left to right, top-aligned; the result is as
// tall as the tallest one and any uncovered area is transparent black.
func ConcatWidth(imgs ...image.Image) *image.NRGBA {
	wSum, hMax := 0, 0
	for _, im := range imgs {
		b := im.Bounds()
		wSum += b.Dx()
		hMax = max(hMax, b.Dy())
	}
	out := image.NewNRGBA(image.Rect(0, 0, wSum, hMax))
	x := 0
	for _, im := range imgs {
		b := im.Bounds()
		draw.Draw(out, image.Rect(x, 0, x+b.Dx(), b.Dy()), im, b.Min, draw.Src)
		x += b.Dx()
	}
	return out
}

// toByte maps [0,1] to 0..255 with clamping and rounding to nearest; NaN gives 0.
func toByte(v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}
