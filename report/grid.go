package report

import (
	"fmt"
	"image"
	"image/draw"

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
	if sh[0] <= 0 || sh[1] <= 0 || sh[2] <= 0 {
		return nil, fmt.Errorf("report: grid: empty image batch %v", sh)
	}
	cv, err := NewCanvas(sh[0], sh[1], sh[2], sh[3], nrow, pad, 1)
	if err != nil {
		return nil, err
	}
	if err := cv.Put(0, 0, images); err != nil {
		return nil, err
	}
	return cv.Image(), nil
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
