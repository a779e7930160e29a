// Package eval measures and shows a trained NVAE: the importance-weighted negative
// log-likelihood and bits per dimension (docs/model.md#evaluation), generative samples with temperature
// and BN re-adjustment, and reconstructions (docs/model.md#sampling).
package eval

import (
	"errors"
	"fmt"
	"math"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// Result is the outcome of an evaluation, in nats per image and bits per dimension.
type Result struct {
	NLLNats      float64 `json:"nll_nats"`   // −log p̂(x), the importance-weighted bound
	BPD          float64 `json:"bpd"`        // NLLNats / (ln 2 · D)
	NELBONats    float64 `json:"nelbo_nats"` // negative ELBO (β = 1, no balancing)
	BPDELBO      float64 `json:"bpd_elbo"`
	NumImages    int     `json:"num_images"`
	NumIWSamples int     `json:"num_iw_samples"`
	Dims         int     `json:"dims"` // D used for bits/dim
}

// Dims is the number of dimensions the likelihood covers: 784 for the cropped binary
// datasets, C·H·W otherwise (docs/model.md#importance-weighted-nll).
func Dims(cfg model.Config) int {
	if cfg.CropOutput() {
		return 28 * 28
	}
	s := cfg.ImageSize()
	return cfg.ImageChannels() * s * s
}

// Source yields evaluation batches, NHWC images in [0,1] (already preprocessed: bit
// depth, binarisation). It returns a nil tensor at the end. release, when not nil,
// is called once the batch is no longer needed.
type Source func() (x *tensor.Tensor, release func(), err error)

// LoaderSource yields one epoch of a loader (which should neither shuffle nor drop
// images).
func LoaderSource(l *data.Loader) Source {
	left := l.BatchesPerEpoch()
	return func() (*tensor.Tensor, func(), error) {
		if left == 0 {
			return nil, nil, nil
		}
		left--
		b, err := l.Next()
		if err != nil {
			return nil, nil, err
		}
		return b.X, b.Release, nil
	}
}

// TensorSource yields x (NHWC) in batches of size batch.
func TensorSource(x *tensor.Tensor, batch int) Source {
	n := x.Shape()[0]
	per := x.Len() / max(n, 1)
	rest := x.Shape()[1:]
	next := 0
	return func() (*tensor.Tensor, func(), error) {
		if next >= n {
			return nil, nil, nil
		}
		hi := min(next+batch, n)
		b := tensor.FromData(x.Data()[next*per:hi*per], append([]int{hi - next}, rest...)...)
		next = hi
		return b, nil, nil
	}
}

// NLL runs the importance-weighted evaluation of docs/model.md#importance-weighted-nll over the batches of src,
// with k posterior samples per image and eval-mode batch normalisation (a batch is
// binarised once and reused for its k samples, as officially). maxImages > 0 stops
// after that many images.
func NLL(m *model.Model, src Source, k int, maxImages int, noise model.Noise) (Result, error) {
	if k < 1 {
		return Result{}, fmt.Errorf("eval: need at least one importance sample, got %d", k)
	}
	cfg := m.Cfg
	res := Result{NumIWSamples: k, Dims: Dims(cfg)}
	var sumNLL, sumELBO float64
	for b := 0; maxImages <= 0 || res.NumImages < maxImages; b++ {
		x, release, err := src()
		if err != nil {
			return res, fmt.Errorf("eval: reading batch %d: %w", b, err)
		}
		if x == nil {
			break
		}
		if s := x.Shape(); len(s) != 4 || s[1] != cfg.ImageSize() || s[2] != cfg.ImageSize() || s[3] != cfg.ImageChannels() {
			return res, fmt.Errorf("eval: batch of shape %v, but the model takes [N,%d,%d,%d] images", s, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels())
		}
		n := x.Shape()[0]
		if maxImages > 0 && res.NumImages+n > maxImages {
			n = maxImages - res.NumImages
			x = tensor.FromData(x.Data()[:n*x.Len()/x.Shape()[0]], append([]int{n}, x.Shape()[1:]...)...)
		}
		logw := make([][]float64, n)
		for i := range logw {
			logw[i] = make([]float64, k)
		}
		for j := 0; j < k; j++ {
			tp := ad.NewNoGradTape()
			out := m.Forward(tp, x, false, noise)
			recon := m.ReconLoss(tp, out, x).Data()
			lq, lp := out.LogQ.Data(), out.LogP.Data()
			for i := 0; i < n; i++ {
				kl := 0.0
				for _, g := range out.KLAll {
					kl += float64(g.Data()[i])
				}
				sumELBO += float64(recon[i]) + kl
				logw[i][j] = -float64(recon[i]) - float64(lq[i]) + float64(lp[i])
			}
			tp.Release()
		}
		for i := 0; i < n; i++ {
			sumNLL -= logSumExp(logw[i]) - math.Log(float64(k))
		}
		res.NumImages += n
		if release != nil {
			release()
		}
	}
	if res.NumImages == 0 {
		return res, errors.New("eval: no images to evaluate")
	}
	res.NLLNats = sumNLL / float64(res.NumImages)
	res.NELBONats = sumELBO / float64(res.NumImages*k)
	res.BPD = res.NLLNats / (math.Ln2 * float64(res.Dims))
	res.BPDELBO = res.NELBONats / (math.Ln2 * float64(res.Dims))
	if math.IsNaN(res.NLLNats) || math.IsInf(res.NLLNats, 0) {
		return res, fmt.Errorf("eval: the likelihood is not finite (%v)", res.NLLNats)
	}
	return res, nil
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
