package eval

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// InputTransform is the evaluation-time preprocessing of cfg's dataset (padding,
// binarisation, bit depth; no flips), or, for datasets without an official pipeline,
// the bit depth alone (with binarisation for the Bernoulli datasets).
func InputTransform(cfg model.Config) data.Transform {
	t, err := data.OfficialTransform(cfg.Dataset, false, cfg.NumXBits)
	if err != nil {
		return data.Transform{NumBits: cfg.NumXBits, Binarize: cfg.Binary()}
	}
	return t
}

// ImageInput turns an image of any size into one model input [1,H,W,C] in [0,1], as
// the training pipeline prepares its images: converted to the model's channel count,
// centre-cropped to a square and resized (bilinear) so that after the dataset's
// padding it has the model's size, then padded, binarised (drawing from rng) and
// reduced to the model's bit depth.
func ImageInput(cfg model.Config, img image.Image, rng *rand.Rand) (*tensor.Tensor, error) {
	tr := InputTransform(cfg)
	side := cfg.ImageSize() - 2*tr.Pad
	c := cfg.ImageChannels()
	if side < 1 {
		return nil, fmt.Errorf("eval: the model's input size %d leaves no room inside padding %d", cfg.ImageSize(), tr.Pad)
	}
	pix, err := data.PrepareImage(img, side, c)
	if err != nil {
		return nil, fmt.Errorf("eval: preparing the image: %w", err)
	}
	h, w, _ := tr.OutShape(side, side, c)
	x := tensor.New(1, h, w, c)
	tr.Apply(x.Data(), pix, side, side, c, rng)
	return x, nil
}
