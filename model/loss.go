package model

import (
	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/dist"
	"github.com/nvae-go/nvae/tensor"
)

// Loss is the training objective of one forward pass (docs/model.md#objective).
type Loss struct {
	Total                    *ad.Var   // scalar: mean_b(recon + balanced KL) + wdn·(norm + bn)
	ReconVar                 *ad.Var   // [B]
	Recon, NELBO, BalancedKL []float32 // [B]
	KLCoeffs, KLVals         []float32 // [NG]
	NormLoss, BNLoss         float32
	Main                     float32 // mean_b(recon + balanced KL)
	NormVar, BNVar           *ad.Var // the regularisers before weighting (scalars; nil without layers)
}

// PowerIters is the number of spectral power iterations per step (10× on the first call).
const PowerIters = 4

// ReconLoss is −Σ log p(x|logits) per example, over the central 28×28 for the cropped datasets.
func (m *Model) ReconLoss(tp *ad.Tape, out *Output, x *tensor.Tensor) *ad.Var {
	lp := out.Decoder.LogProb(tp, x)
	if m.Cfg.CropOutput() {
		lp = tp.Slice(tp.Slice(lp, 1, 2, 30), 2, 2, 30)
	}
	axes := []int{1, 2}
	if len(lp.Shape()) == 4 {
		axes = append(axes, 3)
	}
	return tp.Neg(tp.Sum(lp, false, axes...))
}

// Loss assembles the official training loss for out (x NHWC in [0,1]): reconstruction, β-weighted
// balanced KL (balancing only while klCoeff < 1), spectral regularisation (first-call draws come
// from noise) and the BN regulariser Σ max|γ|, the last two weighted by wdnCoeff.
func (m *Model) Loss(tp *ad.Tape, out *Output, x *tensor.Tensor, klCoeff, wdnCoeff float32, noise Noise) *Loss {
	recon := m.ReconLoss(tp, out, x)
	bal, coeffs, vals := dist.KLBalance(tp, out.KLAll, klCoeff, m.alpha)
	nelbo := tp.Add(recon, bal)
	main := tp.Mean(nelbo, false)

	ws := make([]*ad.Var, len(m.convs))
	for i, c := range m.convs {
		ws[i] = c.EffectiveWeight(tp)
	}
	norm := m.sr.Loss(tp, ws, PowerIters, noise.Normal)
	var bn *ad.Var
	for _, l := range m.bns {
		mx := tp.Max(tp.Abs(l.Gamma), false)
		if bn == nil {
			bn = mx
		} else {
			bn = tp.Add(bn, mx)
		}
	}
	// As train.py: loss += norm_loss·λ + bn_loss·λ (the regularisers are summed first).
	var reg *ad.Var
	if norm != nil {
		reg = tp.Scale(norm, wdnCoeff)
	}
	if bn != nil {
		if b := tp.Scale(bn, wdnCoeff); reg == nil {
			reg = b
		} else {
			reg = tp.Add(reg, b)
		}
	}
	total := main
	if reg != nil {
		total = tp.Add(total, reg)
	}
	l := &Loss{Total: total, ReconVar: recon, Recon: clone(recon), NELBO: clone(nelbo), BalancedKL: clone(bal),
		KLCoeffs: coeffs, KLVals: vals, Main: main.Value.Item(), NormVar: norm, BNVar: bn}
	if norm != nil {
		l.NormLoss = norm.Value.Item()
	}
	if bn != nil {
		l.BNLoss = bn.Value.Item()
	}
	return l
}

func clone(v *ad.Var) []float32 { return append([]float32(nil), v.Data()...) }

// Alpha returns the KL-balancing weights in decoder order.
func (m *Model) Alpha() []float32 { return append([]float32(nil), m.alpha...) }
