package model

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
)

// benchStep times one training step (forward, loss, backward) of a preset at batch b.
func benchStep(bm *testing.B, preset string, b int) {
	cfg, _ := Preset(preset)
	m, err := New(cfg, 1)
	if err != nil {
		bm.Fatal(err)
	}
	x := tinyInput(cfg, b, 1)
	noise := RandNoise{rand.New(rand.NewPCG(1, 2))}
	bm.ReportAllocs()
	bm.ResetTimer()
	for i := 0; i < bm.N; i++ {
		tp := ad.NewTape()
		out := m.Forward(tp, x, true, noise)
		l := m.Loss(tp, out, x, 0.5, 1e-2, noise)
		m.ZeroGrad()
		tp.Backward(l.Total)
		tp.Release()
	}
}

func BenchmarkTrainStepTinyMNIST(b *testing.B)   { benchStep(b, "tiny_mnist", 8) }
func BenchmarkTrainStepTinyCIFAR10(b *testing.B) { benchStep(b, "tiny_cifar10", 8) }
func BenchmarkTrainStepMNIST(b *testing.B)       { benchStep(b, "mnist", 8) }
func BenchmarkTrainStepMNIST32(b *testing.B)     { benchStep(b, "mnist", 32) }
