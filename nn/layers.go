package nn

import (
	"fmt"
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
// statistics, optionally fused with Swish (the official SyncBatchNormSwish). It is the
// one owner of the running statistics: package ad computes a batch's statistics, the
// normalisation and its gradient; BN decides between batch and running statistics and
// folds each training batch into the running ones.
type BN struct {
	Gamma, Beta     *ad.Var
	RunMean, RunVar *tensor.Tensor
	// NumBatches is num_batches_tracked: the number of training-mode forward passes.
	NumBatches int64
	Swish      bool
	// Reducer, when not nil, makes the training-mode statistics and their gradient sums
	// span every process of a data-parallel run (synchronized batch normalisation, see
	// ad.StatReducer); nil keeps them local.
	Reducer ad.StatReducer
}

// NewBN returns a batch norm with γ = 1, β = 0, running mean 0 and variance 1.
func NewBN(c int, swish bool) *BN {
	g := tensor.New(c)
	g.Fill(1)
	v := tensor.New(c)
	v.Fill(1)
	return &BN{Gamma: ad.NewParam(g), Beta: ad.NewParam(tensor.New(c)), RunMean: tensor.New(c), RunVar: v, Swish: swish}
}

// Forward normalises x, then applies Swish if the layer is fused. In training mode it uses
// the batch statistics and folds them into the running statistics (Track), except when tp
// is re-running a recomputed segment (the first run already did: each pass counts once);
// in eval mode it uses the running statistics. A reducer's failure is recorded on the tape
// (ad.Tape.Err).
func (b *BN) Forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var {
	o := ad.BatchNormOpts{Eps: BNEps, Swish: b.Swish, Reducer: b.Reducer}
	if !train {
		return tp.BatchNormEval(x, b.Gamma, b.Beta, b.RunMean.Data(), b.RunVar.Data(), o)
	}
	y, st := tp.BatchNormTrain(x, b.Gamma, b.Beta, o)
	if !tp.Recomputing() {
		b.Track(st)
	}
	return y
}

// Track folds a training batch's statistics into the running statistics,
// running ← (1−BNMomentum)·running + BNMomentum·batch with the unbiased batch variance,
// and counts the batch in NumBatches.
func (b *BN) Track(st ad.BatchStats) {
	if len(st.Mean) != b.RunMean.Len() || len(st.Var) != b.RunVar.Len() {
		panic(fmt.Sprintf("nn.BN.Track: %d/%d statistics for %d channels", len(st.Mean), len(st.Var), b.RunMean.Len()))
	}
	b.NumBatches++
	momentum := float32(BNMomentum)
	rm, rv := b.RunMean.Data(), b.RunVar.Data()
	unbias := float32(st.Count) / float32(max(st.Count-1, 1))
	for j := range rm {
		rm[j] = (1-momentum)*rm[j] + momentum*st.Mean[j]
		rv[j] = (1-momentum)*rv[j] + momentum*st.Var[j]*unbias
	}
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

// Forward rescales the channels of NHWC x: ChannelScale(x, Gate(x)).
func (s *SE) Forward(tp *ad.Tape, x *ad.Var) *ad.Var {
	return ChannelScale(tp, x, s.Gate(tp, x))
}

// Gate returns the per-image channel scales [N,C] of NHWC x: σ(L2(ReLU(L1(mean over
// space of x)))).
func (s *SE) Gate(tp *ad.Tape, x *ad.Var) *ad.Var {
	v := tp.GlobalAvgPool(x)
	return tp.Sigmoid(s.L2.Forward(tp, tp.ReLU(s.L1.Forward(tp, v))))
}
