package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// BenchmarkSpectralLoss times one regular call (4 power iterations) plus its backward
// over weights shaped like a slice of the MNIST preset's (about 7M values).
func BenchmarkSpectralLoss(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][]int{{128, 3, 3, 128}, {768, 1, 1, 128}, {768, 5, 5, 1}, {128, 1, 1, 768}, {256, 3, 3, 256},
		{1536, 1, 1, 256}, {256, 1, 1, 1536}, {40, 3, 3, 128}, {64, 3, 3, 64}, {32, 3, 3, 32}}
	var ws []*ad.Var
	for rep := 0; rep < 4; rep++ {
		for _, s := range shapes {
			t := tensor.New(s...)
			for i := range t.Data() {
				t.Data()[i] = float32(r.NormFloat64())
			}
			ws = append(ws, ad.NewParam(t))
		}
	}
	sr := NewSpectralReg()
	draw := func(shape ...int) *tensor.Tensor {
		t := tensor.New(shape...)
		for i := range t.Data() {
			t.Data()[i] = float32(r.NormFloat64())
		}
		return t
	}
	tp := ad.NewTape()
	sr.Loss(tp, ws, 1, draw)
	tp.Release()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tp := ad.NewTape()
		tp.Backward(sr.Loss(tp, ws, 4, draw))
		tp.Release()
	}
}
