package dist

import (
	"fmt"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// Decoder is the image distribution p(x|z) over decoder logits [B,H,W,Cout] (NHWC).
type Decoder interface {
	// LogProb is the log-likelihood of the target image x (NHWC, values in [0,1]):
	// per pixel and channel for Bernoulli ([B,H,W,1]) and the Normal decoder
	// ([B,H,W,3]), per pixel with the colours and the mixture combined for the
	// discretized logistic mixture ([B,H,W]).
	LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var
	// Mean is the distribution's mean image [B,H,W,C] in [0,1] (a new tensor).
	Mean() *tensor.Tensor
	// Sample draws an image [B,H,W,C] in [0,1] (a new tensor). Only the logistic
	// mixture uses the temperature t.
	Sample(rng *rand.Rand, t float32) *tensor.Tensor
}

// bernoulli is the binary-image decoder with per-pixel logits.
type bernoulli struct{ logits *ad.Var }

// NewBernoulli is the Bernoulli decoder over logits [B,H,W,C] (C = 1 for NVAE's
// binary datasets): log p(x) = x·ℓ − softplus(ℓ), mean σ(ℓ).
func NewBernoulli(logits *ad.Var) Decoder { return bernoulli{logits} }

// LogProb is −BCEWithLogits(ℓ, x) element-wise, the negated loss computed as PyTorch
// does: (1−x)·ℓ + m + ln(e^{−m} + e^{−ℓ−m}) with m = max(−ℓ, 0).
func (d bernoulli) LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var {
	mustSame("dist.Bernoulli.LogProb", x.Shape(), d.logits.Shape())
	l, xd := d.logits.Data(), x.Data()
	out := tp.Custom(d.logits.Shape(), []*ad.Var{d.logits}, func(g []float32, grad func(int) []float32) {
		gl := grad(0)
		cpu.Parallel(len(g), grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				gl[i] += g[i] * (xd[i] - cpu.Sigmoid(l[i]))
			}
		})
	})
	// block by block, the transcendental steps vectorised
	o := out.Data()
	tmp := tensor.Get(len(o))
	defer tensor.Put(tmp)
	t := tmp.Data()
	inBlocks(len(o), func(lo, hi int) {
		ob, tb := o[lo:hi], t[lo:hi]
		for i := lo; i < hi; i++ {
			m := max(-l[i], 0)
			o[i], t[i] = -m, -l[i]-m
		}
		cpu.ExpSlice(ob, ob)
		cpu.ExpSlice(tb, tb)
		for i := range ob {
			ob[i] += tb[i]
		}
		cpu.LogSlice(ob, ob)
		for i := lo; i < hi; i++ {
			m := max(-l[i], 0)
			o[i] = -((1-xd[i])*l[i] + m + o[i])
		}
	})
	return out
}

// Mean is σ(ℓ).
func (d bernoulli) Mean() *tensor.Tensor {
	out := tensor.New(d.logits.Shape()...)
	cpu.Map(out.Data(), d.logits.Data(), cpu.Sigmoid)
	return out
}

// Sample draws binary pixels with probability σ(ℓ); t is ignored.
func (d bernoulli) Sample(rng *rand.Rand, _ float32) *tensor.Tensor {
	out := tensor.New(d.logits.Shape()...)
	o := out.Data()
	for i, l := range d.logits.Data() {
		if rng.Float32() < cpu.Sigmoid(l) {
			o[i] = 1
		}
	}
	return out
}

// normalDecoder is the continuous Gaussian decoder used by colour datasets with a
// single mixture component.
type normalDecoder struct {
	n Normal
	c int
}

// NewNormalDecoder splits logits [B,H,W,2C] into raw μ (channels [0,C)) and raw log σ
// (channels [C,2C)) of a Normal (soft clamp, +0.01). The official configuration has
// C = 3. It panics when the channel count is odd.
func NewNormalDecoder(tp *ad.Tape, logits *ad.Var) Decoder {
	s := logits.Shape()
	ch := s[len(s)-1]
	if ch%2 != 0 {
		panic(fmt.Sprintf("dist.NewNormalDecoder: %d logit channels, want an even number", ch))
	}
	ax := len(s) - 1
	n := NewNormal(tp, tp.Slice(logits, ax, 0, ch/2), tp.Slice(logits, ax, ch/2, ch), 1)
	return normalDecoder{n: n, c: ch / 2}
}

// LogProb is the Normal log density of 2x − 1, element-wise (no discretisation).
func (d normalDecoder) LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var {
	mustSame("dist.NormalDecoder.LogProb", x.Shape(), d.n.Mu.Shape())
	y := tensor.Get(x.Shape()...)
	tp.Own(y)
	yd := y.Data()
	for i, v := range x.Data() {
		yd[i] = 2*v - 1
	}
	return d.n.LogP(tp, ad.Const(y))
}

// Mean is clip(μ, −1, 1)/2 + 0.5 (the official decoder has no mean; this is the
// image of the Gaussian's mean under the decoder's output map).
func (d normalDecoder) Mean() *tensor.Tensor {
	out := tensor.New(d.n.Mu.Shape()...)
	o := out.Data()
	for i, m := range d.n.Mu.Data() {
		o[i] = clip1(m)/2 + 0.5
	}
	return out
}

// Sample draws z = μ + σ·ε, clips it to [−1, 1] and returns z/2 + 0.5; t is ignored,
// as in the official code.
func (d normalDecoder) Sample(rng *rand.Rand, _ float32) *tensor.Tensor {
	out := tensor.New(d.n.Mu.Shape()...)
	o, mu, sig := out.Data(), d.n.Mu.Data(), d.n.Sigma.Data()
	for i := range o {
		z := float32(rng.NormFloat64())*sig[i] + mu[i]
		o[i] = clip1(z)/2 + 0.5
	}
	return out
}

// clip1 limits v to [−1, 1].
func clip1(v float32) float32 { return min(max(v, -1), 1) }
