package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
)

// trainSteps runs steps training passes (forward, loss, backward) of a fresh model at
// precision p, recomputing cells when ckpt is set, and returns the losses, the
// gradients of the last step and the BN buffers.
func trainSteps(t *testing.T, preset string, ckpt bool, steps int, p ad.Precision) ([]float32, []NamedTensor, []NamedTensor) {
	t.Helper()
	cfg, err := Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	m.RecomputeCells, m.Precision = ckpt, p
	noise := RandNoise{rand.New(rand.NewPCG(5, 6))}
	var losses []float32
	for s := 0; s < steps; s++ {
		x := tinyInput(cfg, 3, uint64(10+s))
		m.ZeroGrad()
		tp := ad.NewTape()
		out := m.Forward(tp, x, true, noise)
		l := m.Loss(tp, out, x, 0.7, 1e-2, noise)
		tp.Backward(l.Total)
		losses = append(losses, l.Total.Value.Item())
		tp.Release()
	}
	return losses, m.GradDict(), m.Buffers()
}

// TestRecomputeCellsSameResults checks that recomputing cells in the backward pass
// changes nothing: the same losses, bit-identical gradients and BN running statistics
// updated once per training pass.
func TestRecomputeCellsSameResults(t *testing.T) {
	for _, preset := range []string{"tiny_mnist", "tiny_cifar10"} {
		l0, g0, b0 := trainSteps(t, preset, false, 2, ad.FP32)
		l1, g1, b1 := trainSteps(t, preset, true, 2, ad.FP32)
		for i := range l0 {
			if l0[i] != l1[i] {
				t.Errorf("%s: step %d loss %v with checkpointing, %v without", preset, i, l1[i], l0[i])
			}
		}
		same := func(what string, a, b []NamedTensor) {
			if len(a) != len(b) {
				t.Fatalf("%s: %d %s, want %d", preset, len(b), what, len(a))
			}
			for i := range a {
				for j := range a[i].Data {
					x, y := a[i].Data[j], b[i].Data[j]
					if x != y && !(math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
						t.Errorf("%s: %s %s[%d] = %v with checkpointing, %v without", preset, what, a[i].Name, j, y, x)
						break
					}
				}
			}
		}
		same("gradient", g0, g1)
		same("buffer", b0, b1)
		for _, b := range b1 {
			if len(b.Name) > 20 && b.Name[len(b.Name)-20:] == ".num_batches_tracked" && b.Data[0] != 2 {
				t.Errorf("%s: %s = %v after 2 steps, want 2", preset, b.Name, b.Data[0])
			}
		}
	}
}
