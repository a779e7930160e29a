package eval

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// InterpMethod says how Interpolate walks between the standardised latents of two
// images.
type InterpMethod int

const (
	// Lerp is linear interpolation.
	Lerp InterpMethod = iota
	// Slerp is spherical-linear interpolation, per image and group (keeps the norm of
	// the standardised latent near that of a standard-normal draw).
	Slerp
)

// ParseInterpMethod reads "lerp" or "slerp".
func ParseInterpMethod(s string) (InterpMethod, error) {
	switch s {
	case "lerp", "":
		return Lerp, nil
	case "slerp":
		return Slerp, nil
	}
	return 0, fmt.Errorf("eval: interpolation method %q: want lerp or slerp", s)
}

// zeroNoise makes every posterior "sample" its mean.
type zeroNoise struct{}

func (zeroNoise) Normal(shape ...int) *tensor.Tensor { return tensor.New(shape...) }

// replayNoise hands out given standard-normal draws in order.
type replayNoise struct {
	eps []*tensor.Tensor
	err error
}

func (r *replayNoise) Normal(shape ...int) *tensor.Tensor {
	if len(r.eps) == 0 || !tensor.SameShape(r.eps[0].Shape(), shape) {
		if r.err == nil {
			r.err = fmt.Errorf("eval: internal: unexpected draw of shape %v", shape)
		}
		return tensor.New(shape...)
	}
	e := r.eps[0]
	r.eps = r.eps[1:]
	return e
}

// PosteriorMeans encodes x (NHWC in [0,1], preprocessed) with eval-mode batch
// normalisation taking every group's posterior mean instead of a sample, and returns
// the latent the decoder consumes for each group (decoder order, after any flows).
// Decoding them gives the "mean" reconstruction.
func PosteriorMeans(m *model.Model, x *tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := checkImages(m.Cfg, x); err != nil {
		return nil, err
	}
	return Encode(m, x, zeroNoise{}).Z, nil
}

func checkImages(cfg model.Config, x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("eval: no images")
	}
	if s := x.Shape(); len(s) != 4 || s[0] < 1 || s[1] != cfg.ImageSize() || s[2] != cfg.ImageSize() || s[3] != cfg.ImageChannels() {
		return fmt.Errorf("eval: images of shape %v, but the model takes [N,%d,%d,%d]", s, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels())
	}
	return nil
}

// Interpolate walks from image a to image b (each [1,H,W,C], preprocessed) in steps
// images, both ends included. Each image is encoded with its posterior means
// (PosteriorMeans); every group's latent is then standardised under the prior the
// decoder gives it, ε = (z − μ_p)/σ_p, so that the walk is in the space of the
// prior's noise, where the hierarchy's coarse groups do not drag the fine ones off
// their distribution. ε is interpolated per group (linearly or spherically, method)
// and decoded as a temperature-1 sample with that noise: z = μ_p + σ_p·ε, where μ_p and
// σ_p now come from the interpolated coarser groups. The ends reproduce the mean
// reconstructions of a and b. Batch normalisation uses the running statistics.
func Interpolate(m *model.Model, a, b *tensor.Tensor, steps int, method InterpMethod, mode PixelMode, rng *rand.Rand) (*tensor.Tensor, error) {
	if steps < 2 {
		return nil, fmt.Errorf("eval: interpolation needs at least 2 steps, got %d", steps)
	}
	if method != Lerp && method != Slerp {
		return nil, fmt.Errorf("eval: unknown interpolation method %d", method)
	}
	for _, x := range []*tensor.Tensor{a, b} {
		if err := checkImages(m.Cfg, x); err != nil {
			return nil, err
		}
		if x.Dim(0) != 1 {
			return nil, fmt.Errorf("eval: Interpolate takes one image at each end, got a batch of %d", x.Dim(0))
		}
	}
	ab := tensor.New(append([]int{2}, a.Shape()[1:]...)...)
	copy(ab.Data(), a.Data())
	copy(ab.Data()[a.Len():], b.Data())
	zs, err := PosteriorMeans(m, ab)
	if err != nil {
		return nil, err
	}
	eps, err := standardise(m, zs)
	if err != nil {
		return nil, err
	}
	walk := make([]*tensor.Tensor, len(eps))
	for l, e := range eps {
		s := e.Shape()
		per := e.Len() / 2
		w := tensor.New(steps, s[1], s[2], s[3])
		ea, eb := e.Data()[:per], e.Data()[per:]
		for i := range steps {
			alpha := float64(i) / float64(steps-1)
			interp(w.Data()[i*per:(i+1)*per], ea, eb, alpha, method)
		}
		walk[l] = w
	}
	tp := ad.NewInferenceTape()
	defer tp.Release()
	noise := &replayNoise{eps: walk}
	out, err := m.DecodePartial(tp, steps, 1, nil, noise)
	if err != nil {
		return nil, err
	}
	if noise.err != nil {
		return nil, noise.err
	}
	return pixels(m, out, 1, mode, rng), nil
}

// standardise returns (z − μ_p)/σ_p per group, the priors taken from decoding zs.
func standardise(m *model.Model, zs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out, err := m.Decode(tp, zs)
	if err != nil {
		return nil, err
	}
	eps := make([]*tensor.Tensor, len(zs))
	for l, z := range zs {
		mu, sig := out.Dists[l].Mu.Data(), out.Dists[l].Sigma.Data()
		e := tensor.New(z.Shape()...)
		for i, v := range z.Data() {
			e.Data()[i] = (v - mu[i]) / sig[i]
		}
		eps[l] = e
	}
	return eps, nil
}

// interp writes the point alpha of the way from a to b into dst.
func interp(dst, a, b []float32, alpha float64, method InterpMethod) {
	wa, wb := 1-alpha, alpha
	if method == Slerp {
		var dot, na, nb float64
		for i := range a {
			dot += float64(a[i]) * float64(b[i])
			na += float64(a[i]) * float64(a[i])
			nb += float64(b[i]) * float64(b[i])
		}
		if na > 0 && nb > 0 {
			cos := math.Max(-1, math.Min(1, dot/math.Sqrt(na*nb)))
			omega := math.Acos(cos)
			if so := math.Sin(omega); so > 1e-6 {
				wa, wb = math.Sin((1-alpha)*omega)/so, math.Sin(alpha*omega)/so
			}
		}
	}
	switch alpha { // exact ends
	case 0:
		wa, wb = 1, 0
	case 1:
		wa, wb = 0, 1
	}
	for i := range dst {
		dst[i] = float32(wa*float64(a[i]) + wb*float64(b[i]))
	}
}

// Traverse encodes the image x ([1,H,W,C], preprocessed) with its posterior means,
// keeps the latents of the first keep groups in decoder order (the coarsest, most
// global ones) and draws every other group from its prior at temperature t, n times:
// the n images show what the finer groups are free to change once the coarse ones
// are fixed. keep = 0 gives plain samples, keep = all groups n copies of the mean
// reconstruction. Batch normalisation uses the running statistics (re-adjusted ones
// when ReadjustBN ran). noise supplies the prior draws, rng the pixel draws.
func Traverse(m *model.Model, x *tensor.Tensor, keep int, t float32, n int, mode PixelMode, noise model.Noise, rng *rand.Rand) (*tensor.Tensor, error) {
	g := m.Cfg.NumGroups()
	switch {
	case keep < 0 || keep > g:
		return nil, fmt.Errorf("eval: keep %d groups: the model has %d (want 0..%d)", keep, g, g)
	case n < 1:
		return nil, fmt.Errorf("eval: cannot draw %d images", n)
	case !(t > 0) || math.IsInf(float64(t), 0):
		return nil, fmt.Errorf("eval: temperature must be positive and finite, got %v", t)
	}
	if err := checkImages(m.Cfg, x); err != nil {
		return nil, err
	}
	if x.Dim(0) != 1 {
		return nil, fmt.Errorf("eval: Traverse takes one image, got a batch of %d", x.Dim(0))
	}
	var fixed []*tensor.Tensor
	if keep > 0 {
		zs, err := PosteriorMeans(m, x)
		if err != nil {
			return nil, err
		}
		for _, z := range zs[:keep] {
			s := z.Shape()
			r := tensor.New(n, s[1], s[2], s[3])
			for i := range n {
				copy(r.Data()[i*z.Len():], z.Data())
			}
			fixed = append(fixed, r)
		}
	}
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out, err := m.DecodePartial(tp, n, t, fixed, noise)
	if err != nil {
		return nil, err
	}
	return pixels(m, out, t, mode, rng), nil
}
