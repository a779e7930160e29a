package nn

import (
	"math"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// BN momentum and epsilon of every batch-norm layer in NVAE.
const (
	BNMomentum = 0.05
	BNEps      = 1e-5
)

// BN is an affine batch normalisation over the channels of an NHWC tensor with running
// statistics, optionally fused with Swish (the official SyncBatchNormSwish).
type BN struct {
	Gamma, Beta     *ad.Var
	RunMean, RunVar *tensor.Tensor
	// NumBatches is num_batches_tracked: the number of training-mode forward passes.
	NumBatches int64
	Swish      bool
}

// NewBN returns a batch norm with γ = 1, β = 0, running mean 0 and variance 1.
func NewBN(c int, swish bool) *BN {
	g := tensor.New(c)
	g.Fill(1)
	v := tensor.New(c)
	v.Fill(1)
	return &BN{Gamma: ad.NewParam(g), Beta: ad.NewParam(tensor.New(c)), RunMean: tensor.New(c), RunVar: v, Swish: swish}
}

// Forward normalises x (batch statistics and a running-statistics update in training mode,
// running statistics in eval mode), then applies Swish if the layer is fused. A checkpointed
// segment that is recomputed during Backward counts and updates the statistics only once.
func (b *BN) Forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var {
	if train && !tp.Recomputing() {
		b.NumBatches++
	}
	return tp.BatchNorm(x, b.Gamma, b.Beta, b.RunMean, b.RunVar, train, BNMomentum, BNEps, b.Swish)
}

// Linear is y = x·Wᵀ + B with W [out, in] (PyTorch layout).
type Linear struct{ W, B *ad.Var }

// NewLinear returns a linear layer with PyTorch's default initialisation.
func NewLinear(rng *rand.Rand, in, out int) *Linear {
	bound := float32(1 / math.Sqrt(float64(in)))
	w, b := tensor.New(out, in), tensor.New(out)
	uniform(rng, w.Data(), bound)
	uniform(rng, b.Data(), bound)
	return &Linear{W: ad.NewParam(w), B: ad.NewParam(b)}
}

// Forward applies the layer to x [N, in].
func (l *Linear) Forward(tp *ad.Tape, x *ad.Var) *ad.Var { return tp.Linear(x, l.W, l.B) }

// SE is squeeze-and-excitation: x·sigmoid(L2(relu(L1(mean_hw x)))) with hidden = max(C/16, 4).
type SE struct{ L1, L2 *Linear }

// SEHidden is the hidden width of SE(c).
func SEHidden(c int) int { return max(c/16, 4) }

// NewSE returns an SE block for c channels.
func NewSE(rng *rand.Rand, c int) *SE {
	h := SEHidden(c)
	return &SE{L1: NewLinear(rng, c, h), L2: NewLinear(rng, h, c)}
}

// Forward rescales the channels of NHWC x.
func (s *SE) Forward(tp *ad.Tape, x *ad.Var) *ad.Var {
	v := tp.GlobalAvgPool(x)
	v = tp.Sigmoid(s.L2.Forward(tp, tp.ReLU(s.L1.Forward(tp, v))))
	return ChannelScale(tp, x, v)
}
