package ad_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// BenchmarkConvBNSwishStack times a training step (forward, backward, release) of
// three 3×3 convolution + BN+Swish layers on [16,16,16,64] and reports the heap
// allocations per step: after the first step the buffers come from the pools.
func BenchmarkConvBNSwishStack(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, hw, c = 16, 16, 64
	x := ad.Const(testutil.Uniform(r, -1, 1, n, hw, hw, c))
	type layer struct {
		w, gamma, beta *ad.Var
	}
	var layers []layer
	for range 3 {
		g := tensor.New(c)
		g.Fill(1)
		layers = append(layers, layer{ad.NewParam(testutil.Uniform(r, -0.05, 0.05, c, 3, 3, c)), ad.NewParam(g), ad.NewParam(tensor.New(c))})
	}
	step := func() {
		tp := ad.NewTape()
		h := x
		for _, l := range layers {
			h = tp.Conv2D(h, l.w, nil, ad.ConvOpts{Pad: 1})
			h, _ = tp.BatchNormTrain(h, l.gamma, l.beta, ad.BatchNormOpts{Eps: 1e-5, Swish: true})
		}
		tp.Backward(tp.Sum(h, false))
		tp.Release()
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
}
