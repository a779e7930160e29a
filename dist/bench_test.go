package dist

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// BenchmarkDMLLogProb times forward and backward of the fused mixture
// log-likelihood on a CIFAR-sized batch ([8,32,32], M = 10).
func BenchmarkDMLLogProb(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	logits, x := dmlCase(r, 32, 32, 10, 8, false)
	big := tensor.New(8, 32, 32, 100)
	bx := tensor.New(8, 32, 32, 3)
	for i := range 8 {
		copy(big.Data()[i*logits.Len():], logits.Data())
		copy(bx.Data()[i*x.Len():], x.Data())
	}
	p := ad.NewParam(big)
	g := tensor.New(8, 32, 32)
	g.Fill(1)
	for b.Loop() {
		tp := ad.NewTape()
		out := NewDiscMixLogistic(tp, p, 10, 8).LogProb(tp, bx)
		tp.BackwardWith(out, g)
		tp.Release()
	}
}
