package model

import (
	"fmt"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/dist"
	"github.com/nvae-go/nvae/tensor"
)

// DecodePartial runs the generative path for n images with the latents of the first
// len(fixed) groups (decoder order, i.e. the coarsest first) given, shaped as
// LatentShapes(n), and every later group drawn from its prior at temperature t with
// one noise.Normal call per drawn group. With no fixed groups it is Sample; with all of
// them it is Decode. BN uses running statistics unless SetTrain(true).
func (m *Model) DecodePartial(tp *ad.Tape, n int, t float32, fixed []*tensor.Tensor, noise Noise) (*Output, error) {
	if n < 1 {
		return nil, fmt.Errorf("model: DecodePartial needs at least one image, got %d", n)
	}
	want := m.LatentShapes(n)
	if len(fixed) > len(want) {
		return nil, fmt.Errorf("model: DecodePartial got the latents of %d groups, the model has %d", len(fixed), len(want))
	}
	for l, z := range fixed {
		if z == nil || !tensor.SameShape(z.Shape(), want[l]) {
			var got []int
			if z != nil {
				got = z.Shape()
			}
			return nil, fmt.Errorf("model: fixed latent %d has shape %v, want %v", l, got, want[l])
		}
	}
	return m.generate(tp, n, t, func(l int, p dist.Normal, shape []int) *ad.Var {
		if l < len(fixed) {
			return ad.Const(fixed[l])
		}
		return p.Sample(tp, noise.Normal(shape...))
	}), nil
}
