package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Transform is the per-image preprocessing of the official NVAE input pipelines
// (docs/model.md#data), applied to a uint8 HWC image to give float32 HWC values in [0,1]:
//
//	random horizontal flip (HFlip) → zero padding (Pad) → ToTensor (/255)
//	→ dynamic binarisation (Binarize) → num_x_bits reduction (NumBits)
//
// The official code applies the bit reduction (utils.pre_process) in the training and
// evaluation loops rather than in the dataset; the result is the same.
type Transform struct {
	// Pad is the number of zero pixels added on every side (2 for MNIST-like sets).
	Pad int
	// Binarize draws every value as Bernoulli(pixel/255) (0 or 1).
	Binarize bool
	// HFlip mirrors the image left-right with probability 1/2.
	HFlip bool
	// NumBits is num_x_bits; 0 and 8 leave the values at v/255, otherwise they become
	// floor(x·255 / 2^(8−bits)) / (2^bits − 1).
	NumBits int
}

// OfficialTransform returns the preprocessing the official code uses for a dataset
// name as accepted by Open, for the training (train = true) or evaluation split:
// MNIST-like sets (mnist, fashion_mnist, embedded) are padded by 2 to 32×32 and
// dynamically binarised in both splits; cifar10 and image folders (folder, celeba_64)
// are flipped at random in training only. numBits is num_x_bits.
func OfficialTransform(name string, train bool, numBits int) (Transform, error) {
	t := Transform{NumBits: numBits}
	switch canonicalName(name) {
	case "mnist", "fashion_mnist", "embedded":
		t.Pad, t.Binarize = 2, true
	case "cifar10", "folder", "celeba_64":
		t.HFlip = train
	default:
		return t, fmt.Errorf("data: no official transform for dataset %q", name)
	}
	return t, t.Validate()
}

// Validate checks the fields.
func (t Transform) Validate() error {
	if t.Pad < 0 {
		return fmt.Errorf("data: transform padding %d is negative", t.Pad)
	}
	if t.NumBits < 0 || t.NumBits > 8 {
		return fmt.Errorf("data: num_x_bits %d out of range: expected 1..8 (0 means 8)", t.NumBits)
	}
	return nil
}

// OutShape returns the height, width and channels of the transformed image.
func (t Transform) OutShape(h, w, c int) (int, int, int) {
	return h + 2*t.Pad, w + 2*t.Pad, c
}

// ReduceBits returns the model input for the byte v: ToTensor's v/255 in float32,
// followed, when bits is in 1..7, by the official pre_process
// floor(x·255 / 2^(8−bits)) / (2^bits − 1), computed in float32 as torch does.
func ReduceBits(v uint8, bits int) float32 {
	x := float32(v) / 255
	if bits <= 0 || bits >= 8 {
		return x
	}
	y := float32(x * 255)
	q := float32(math.Floor(float64(y / float32(int(1)<<(8-bits)))))
	return q / float32(int(1)<<bits-1)
}

// levels returns the 256 values ReduceBits gives for t.NumBits.
func (t Transform) levels() *[256]float32 {
	var lut [256]float32
	for v := range lut {
		lut[v] = ReduceBits(uint8(v), t.NumBits)
	}
	return &lut
}

// Apply transforms the h×w×c image img into dst, which must hold exactly the
// OutShape size, drawing the flip decision first and then one uniform value per
// binarised pixel (row-major, channels innermost) from rng.
func (t Transform) Apply(dst []float32, img []uint8, h, w, c int, rng *rand.Rand) {
	t.apply(dst, img, h, w, c, rng, t.levels())
}

func (t Transform) apply(dst []float32, img []uint8, h, w, c int, rng *rand.Rand, lut *[256]float32) {
	oh, ow, _ := t.OutShape(h, w, c)
	if len(dst) != oh*ow*c || len(img) != h*w*c {
		panic(fmt.Sprintf("data: Transform.Apply: %d inputs for %d×%d×%d, %d outputs for %d×%d×%d", len(img), h, w, c, len(dst), oh, ow, c))
	}
	flip := t.HFlip && rng.Float64() < 0.5
	if t.Pad > 0 {
		clear(dst)
	}
	p := t.Pad
	for y := 0; y < h; y++ {
		row := img[y*w*c : (y+1)*w*c]
		out := dst[((y+p)*ow+p)*c : ((y+p)*ow+p+w)*c]
		for x := 0; x < w; x++ {
			sx := x
			if flip {
				sx = w - 1 - x
			}
			src := row[sx*c : sx*c+c]
			o := out[x*c : x*c+c]
			for ch, v := range src {
				if t.Binarize {
					// torch.bernoulli(x): 1 with probability x = v/255.
					if rng.Float32() < float32(v)/255 {
						o[ch] = 1
					} else {
						o[ch] = 0
					}
				} else {
					o[ch] = lut[v]
				}
			}
		}
	}
}
