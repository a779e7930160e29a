package dist

import (
	"fmt"

	"github.com/nvae-go/nvae/ad"
)

// KLBalance implements NVAE's KL balancing (docs/model.md#kl-balancing). klAll holds the KL of each
// latent group in decoder order, each of shape [B]; alpha holds the groups'
// balancing weights α_l. With K[b,l] = klAll[l][b]:
//
//   - when klCoeff < 1, k̄_l = mean_b |K[b,l]| + 0.01, c_l = (k̄_l/α_l)·Σ_j k̄_j and
//     then c_l /= mean_j c_j; the coefficients are constants (no gradient flows
//     through them);
//   - otherwise all c_l = 1.
//
// It returns klCoeff·Σ_l c_l·K[:,l] of shape [B], the coefficients c_l and
// kl_vals_l = mean_b K[b,l]. Mismatched lengths or shapes are programming errors
// and panic.
func KLBalance(tp *ad.Tape, klAll []*ad.Var, klCoeff float32, alpha []float32) (balanced *ad.Var, coeffs, klVals []float32) {
	ng := len(klAll)
	if ng == 0 || len(alpha) != ng {
		panic(fmt.Sprintf("dist.KLBalance: %d groups, %d alphas", ng, len(alpha)))
	}
	bsz := klAll[0].Value.Len()
	for _, k := range klAll {
		if k.Value.Len() != bsz || len(k.Shape()) != 1 {
			panic(fmt.Sprintf("dist.KLBalance: group KL of shape %v, want [%d]", k.Shape(), bsz))
		}
	}
	klVals = make([]float32, ng)
	coeffs = make([]float32, ng)
	kbar := make([]float32, ng)
	var total float32
	for l, k := range klAll {
		var s, sa float32
		for _, v := range k.Data() {
			s += v
			sa += max(v, -v)
		}
		klVals[l] = s / float32(bsz)
		kbar[l] = sa/float32(bsz) + 0.01
		total += kbar[l]
	}
	if klCoeff < 1 {
		var mean float32
		for l := range coeffs {
			coeffs[l] = kbar[l] / alpha[l] * total
			mean += coeffs[l]
		}
		mean /= float32(ng)
		for l := range coeffs {
			coeffs[l] /= mean
		}
	} else {
		for l := range coeffs {
			coeffs[l] = 1
		}
	}
	balanced = tp.Custom([]int{bsz}, klAll, func(g []float32, grad func(int) []float32) {
		for l := range klAll {
			gl := grad(l)
			if gl == nil {
				continue
			}
			c := klCoeff * coeffs[l]
			for b, v := range g {
				gl[b] += v * c
			}
		}
	})
	o := balanced.Data()
	for b := range o {
		var s float32
		for l, k := range klAll {
			s += k.Data()[b] * coeffs[l]
		}
		o[b] = klCoeff * s
	}
	return balanced, coeffs, klVals
}
