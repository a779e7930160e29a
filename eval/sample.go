package eval

import (
	"fmt"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// PixelMode says how a decoded distribution becomes an image.
type PixelMode int

const (
	// PixelDefault is what the official evaluate.py shows: the Bernoulli mean, a DML
	// or Normal sample at pixel temperature 1.
	PixelDefault PixelMode = iota
	// PixelMean uses the distribution's mean (as FID does).
	PixelMean
	// PixelSampleT draws pixels at the latent temperature (training-time
	// visualisation: the DML scale is divided by t).
	PixelSampleT
)

// ReadjustBN re-estimates the decoder's batch-norm running statistics for sampling at
// temperature t (docs/model.md#sampling): iters generative passes of batch n in training mode (the
// official values are 500 and 16), then back to eval mode. With synchronized batch norm
// (model.SetStatReducer) the statistics span every process's batch, and a failed
// reduction is returned.
func ReadjustBN(m *model.Model, iters, n int, t float32, noise model.Noise) error {
	return ReadjustBNFunc(m, iters, n, t, noise, nil)
}

// ReadjustBNFunc is ReadjustBN calling after (when not nil) once each pass is done,
// with the number of passes done so far, e.g. to show progress.
func ReadjustBNFunc(m *model.Model, iters, n int, t float32, noise model.Noise, after func(done int)) error {
	m.SetTrain(true)
	defer m.SetTrain(false)
	for i := 0; i < iters; i++ {
		tp := ad.NewInferenceTape()
		m.Sample(tp, n, t, noise)
		err := tp.Err() // a synchronized batch norm's reduction failed
		tp.Release()
		if err != nil {
			return fmt.Errorf("eval: BN re-adjustment pass %d: %w", i, err)
		}
		if after != nil {
			after(i + 1)
		}
	}
	return nil
}

// Sample draws n images at latent temperature t with eval-mode batch normalisation,
// returned as an NHWC tensor in [0,1].
func Sample(m *model.Model, n int, t float32, mode PixelMode, noise model.Noise, rng *rand.Rand) (*tensor.Tensor, error) {
	if n < 1 {
		return nil, fmt.Errorf("eval: cannot draw %d samples", n)
	}
	if t <= 0 {
		return nil, fmt.Errorf("eval: temperature must be positive, got %v", t)
	}
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out := m.Sample(tp, n, t, noise)
	return pixels(m, out, t, mode, rng), nil
}

// Reconstruct encodes x (NHWC in [0,1]) with one posterior sample and decodes it,
// returning the image the decoder shows (eval-mode batch normalisation).
func Reconstruct(m *model.Model, x *tensor.Tensor, mode PixelMode, noise model.Noise, rng *rand.Rand) *tensor.Tensor {
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out := m.Forward(tp, x, false, noise)
	return pixels(m, out, 1, mode, rng)
}

func pixels(m *model.Model, out *model.Output, t float32, mode PixelMode, rng *rand.Rand) *tensor.Tensor {
	if m.Cfg.Binary() || mode == PixelMean {
		return out.Decoder.Mean().Clone()
	}
	if mode == PixelSampleT {
		return out.Decoder.Sample(rng, t).Clone()
	}
	return out.Decoder.Sample(rng, 1).Clone()
}

// Encoding is what the encoder says about a batch of images: per latent group in
// decoder order, the posterior mean and standard deviation, and the latent the
// decoder consumed (one posterior sample, after the flows). Tensors are NHWC.
type Encoding struct {
	Mu, Sigma, Z []*tensor.Tensor
}

// Encode runs the encoder on x (NHWC in [0,1], preprocessed) with eval-mode batch
// normalisation and one posterior sample per group.
func Encode(m *model.Model, x *tensor.Tensor, noise model.Noise) *Encoding {
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out := m.Forward(tp, x, false, noise)
	e := &Encoding{}
	for l, d := range out.Dists {
		e.Mu = append(e.Mu, d.Mu.Value.Clone())
		e.Sigma = append(e.Sigma, d.Sigma.Value.Clone())
		e.Z = append(e.Z, out.ZDec[l].Value.Clone())
	}
	return e
}

// Decode turns latents (one per group in decoder order, e.g. Encoding.Z) into images
// with eval-mode batch normalisation.
func Decode(m *model.Model, zs []*tensor.Tensor, mode PixelMode, rng *rand.Rand) (*tensor.Tensor, error) {
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out, err := m.Decode(tp, zs)
	if err != nil {
		return nil, err
	}
	return pixels(m, out, 1, mode, rng), nil
}
