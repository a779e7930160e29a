// Package eval measures and shows a trained NVAE: the importance-weighted negative
// log-likelihood and bits per dimension (docs/model.md#evaluation), generative samples with temperature
// and BN re-adjustment, and reconstructions (docs/model.md#sampling).
package eval

import (
	"context"
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
	// Partial marks a result over only the images evaluated before the evaluation
	// was stopped.
	Partial bool `json:"partial"`
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

// Options configure NLL.
type Options struct {
	// K is the number of importance samples per image (at least 1).
	K int
	// MaxImages > 0 stops after that many images.
	MaxImages int
	// Noise supplies the posterior samples' standard-normal draws.
	Noise model.Noise
	// Progress, when not nil, is called after every forward pass with the work done so
	// far (from the calling goroutine).
	Progress func(Progress)
	// MemoryBudget bounds the working set of one forward pass in bytes: the importance
	// samples of a batch run as one larger batch of as many images as fit. 0 means
	// DefaultMemoryBudget.
	MemoryBudget int64
}

// DefaultMemoryBudget is the working set NLL allows one forward pass by default.
const DefaultMemoryBudget = 64 << 20

// Progress is how far an evaluation has come.
type Progress struct {
	// Images is the number of images whose K samples are all done.
	Images int
	// Forwards is the number of (image, importance sample) forward passes done,
	// counting those of the batch in progress.
	Forwards int64
}

// NLL runs the importance-weighted evaluation of docs/model.md#importance-weighted-nll
// over the batches of src, with o.K posterior samples per image and eval-mode batch
// normalisation (a batch is binarised once and reused for its K samples, as
// officially). The K samples of a batch run as one larger batch (as many at a time as
// o.MemoryBudget allows) on the inference path; the noise is drawn in the same order as
// one sample at a time, so the result does not depend on how they are grouped.
//
// When ctx is cancelled the evaluation stops within one operation of the forward
// pass and the result covers the images whose K samples were all done, with Partial
// set (an error when there are none).
func NLL(ctx context.Context, m *model.Model, src Source, o Options) (Result, error) {
	k := o.K
	if k < 1 {
		return Result{}, fmt.Errorf("eval: need at least one importance sample, got %d", k)
	}
	if o.Noise == nil {
		return Result{}, errors.New("eval: no noise source for the posterior samples")
	}
	budget := o.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	cfg := m.Cfg
	res := Result{NumIWSamples: k, Dims: Dims(cfg)}
	var sumNLL, sumELBO float64
	var forwards int64
	perImage := int64(0) // working-set bytes per image forward, measured on the first pass
	stopped := false
	// the effective and folded weights, computed once for every pass
	prepared := ad.NewInferenceTape()
	defer prepared.Release()
	m.PrepareInference(prepared)
	for b := 0; !stopped && (o.MaxImages <= 0 || res.NumImages < o.MaxImages); b++ {
		if ctx.Err() != nil {
			stopped = true
			break
		}
		x, release, err := src()
		if err != nil {
			return res, fmt.Errorf("eval: reading batch %d: %w", b, err)
		}
		if x == nil {
			break
		}
		if s := x.Shape(); len(s) != 4 || s[1] != cfg.ImageSize() || s[2] != cfg.ImageSize() || s[3] != cfg.ImageChannels() {
			if release != nil {
				release()
			}
			return res, fmt.Errorf("eval: batch of shape %v, but the model takes [N,%d,%d,%d] images", s, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels())
		}
		n := x.Shape()[0]
		if o.MaxImages > 0 && res.NumImages+n > o.MaxImages {
			n = o.MaxImages - res.NumImages
			x = tensor.FromData(x.Data()[:n*x.Len()/x.Shape()[0]], append([]int{n}, x.Shape()[1:]...)...)
		}
		logw := make([][]float64, n)
		for i := range logw {
			logw[i] = make([]float64, k)
		}
		var batchELBO float64
		enc, err := encodeBatch(ctx, m, prepared, x)
		if errors.Is(err, errStopped) {
			if release != nil {
				release()
			}
			stopped = true
			break
		}
		for j0 := 0; j0 < k; {
			c := 1 // samples in this pass: one until the working set per image is known
			if perImage > 0 {
				c = int(max(budget/(perImage*int64(n)), 1))
				// passes of (nearly) equal size
				passes := (k - j0 + c - 1) / c
				c = (k - j0 + passes - 1) / passes
			}
			c = min(c, k-j0)
			pass, err := iwPass(ctx, m, prepared, enc, x, c, o.Noise)
			if err != nil {
				if errors.Is(err, errStopped) {
					stopped = true
					break
				}
				enc.release()
				if release != nil {
					release()
				}
				return res, err
			}
			if perImage == 0 {
				perImage = max(pass.peak/int64(n*c), 1)
			}
			for j := 0; j < c; j++ {
				for i := 0; i < n; i++ {
					r := j*n + i
					batchELBO += pass.recon[r] + pass.kl[r]
					logw[i][j0+j] = -pass.recon[r] - pass.logQ[r] + pass.logP[r]
				}
			}
			j0 += c
			forwards += int64(c * n)
			if o.Progress != nil {
				o.Progress(Progress{Images: res.NumImages, Forwards: forwards})
			}
		}
		enc.release()
		if release != nil {
			release()
		}
		if stopped {
			break
		}
		sumELBO += batchELBO
		for i := 0; i < n; i++ {
			sumNLL -= logSumExp(logw[i]) - math.Log(float64(k))
		}
		res.NumImages += n
		if o.Progress != nil {
			o.Progress(Progress{Images: res.NumImages, Forwards: forwards})
		}
	}
	res.Partial = stopped
	if res.NumImages == 0 {
		if stopped {
			return res, fmt.Errorf("eval: stopped before any image was evaluated: %w", context.Cause(ctx))
		}
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

// errStopped reports a pass cut short by a cancelled context.
var errStopped = errors.New("eval: stopped")

// iwResult holds the per-row terms of one importance-weighted pass (row j·n + i is
// image i under sample j) and the pass's peak working set in bytes.
type iwResult struct {
	recon, kl, logQ, logP []float64
	peak                  int64
}

// encoding is a batch's encoder features and the tape that holds them.
type encoding struct {
	e  *model.Encoded
	tp *ad.Tape
}

func (e encoding) release() { e.tp.Release() }

// encodeBatch runs the encoder on x once for all of the batch's samples (on an
// inference tape sharing the prepared weights, stopped by ctx).
func encodeBatch(ctx context.Context, m *model.Model, prepared *ad.Tape, x *tensor.Tensor) (enc encoding, err error) {
	tp := ad.NewInferenceTape()
	tp.ShareMemo(prepared)
	tp.StopWhen(func() bool { return ctx.Err() != nil })
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(ad.Stopped); !ok {
				panic(r)
			}
			tp.Release()
			err = errStopped
		}
	}()
	return encoding{e: m.EncodeForSamples(tp, x), tp: tp}, nil
}

// iwPass runs c importance samples of the n images of x (encoded in enc) as one
// batch of c·n images. The noise is drawn sample by sample, each sample's groups in
// order, as c separate passes would draw it.
func iwPass(ctx context.Context, m *model.Model, prepared *ad.Tape, enc encoding, x *tensor.Tensor, c int, noise model.Noise) (res iwResult, err error) {
	n := x.Shape()[0]
	shapes := m.LatentShapes(n)
	draws := make([][]*tensor.Tensor, len(shapes)) // per group, per sample
	for j := 0; j < c; j++ {
		for l, s := range shapes {
			draws[l] = append(draws[l], noise.Normal(s...))
		}
	}
	xc := x
	if c > 1 {
		xc = tensor.New(append([]int{c * n}, x.Shape()[1:]...)...)
		for j := 0; j < c; j++ {
			copy(xc.Data()[j*x.Len():], x.Data())
		}
	}
	tp := ad.NewInferenceTape()
	defer tp.Release()
	tp.ShareMemo(prepared)
	tp.StopWhen(func() bool { return ctx.Err() != nil })
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(ad.Stopped); !ok {
				panic(r)
			}
			err = errStopped
		}
	}()
	out := m.ForwardEncoded(tp, enc.e, c, &stackedNoise{draws: draws})
	recon := m.ReconLoss(tp, out, xc).Data()
	rows := c * n
	res = iwResult{recon: make([]float64, rows), kl: make([]float64, rows), logQ: make([]float64, rows), logP: make([]float64, rows)}
	lq, lp := out.LogQ.Data(), out.LogP.Data()
	for r := 0; r < rows; r++ {
		kl := 0.0
		for _, g := range out.KLAll {
			kl += float64(g.Data()[r])
		}
		res.recon[r], res.kl[r], res.logQ[r], res.logP[r] = float64(recon[r]), kl, float64(lq[r]), float64(lp[r])
	}
	res.peak = tp.PeakBytes()
	return res, nil
}

// stackedNoise hands a forward pass over c stacked copies of a batch the draws made for
// each copy: the l-th call returns group l's draws of every copy, stacked along the
// batch axis.
type stackedNoise struct {
	draws [][]*tensor.Tensor
	next  int
}

func (s *stackedNoise) Normal(shape ...int) *tensor.Tensor {
	if s.next >= len(s.draws) {
		panic(fmt.Sprintf("eval: the forward pass drew noise for more than %d latent groups", len(s.draws)))
	}
	ds := s.draws[s.next]
	s.next++
	if len(ds) == 1 {
		return ds[0]
	}
	out := tensor.New(shape...)
	off := 0
	for _, d := range ds {
		off += copy(out.Data()[off:], d.Data())
	}
	if off != out.Len() {
		panic(fmt.Sprintf("eval: noise of shape %v for %d stacked draws of %v", shape, len(ds), ds[0].Shape()))
	}
	return out
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
