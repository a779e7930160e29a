package train

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/optim"
	"github.com/nvae-go/nvae/tensor"
)

// TestFixedStepMatchesManualStep checks that a NewFixed trainer's step is the training
// step written out by hand (forward, loss, backward, Adamax update): same loss and
// bit-identical parameters afterwards, over two steps.
func TestFixedStepMatchesManualStep(t *testing.T) {
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BatchSize = 2
	s := cfg.ImageSize()
	x := tensor.New(2, s, s, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data() {
		if r.Float32() < 0.3 {
			x.Data()[i] = 1
		}
	}
	f := Fixed{Batch: x, LR: 1e-3, KLCoeff: 0.5, NormCoeff: 1e-2, WeightDecay: 3e-4, Seed: 9}

	m1, err := model.New(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewFixed(m1, f)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := model.New(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	params := m2.Params()
	ps, gs, sizes := make([][]float32, len(params)), make([][]float32, len(params)), make([]int, len(params))
	for i, p := range params {
		ps[i], gs[i], sizes[i] = p.V.Data(), p.V.Grad.Data(), p.V.Value.Len()
	}
	opt, err := optim.NewAdamax(sizes, f.WeightDecay)
	if err != nil {
		t.Fatal(err)
	}
	noise := model.NewSeededNoise(f.Seed)
	for step := 0; step < 2; step++ {
		sm, err := tr.StepOnce()
		if err != nil {
			t.Fatal(err)
		}
		tp := ad.NewTape()
		out := m2.Forward(tp, x, true, noise)
		l := m2.Loss(tp, out, x, float32(f.KLCoeff), float32(f.NormCoeff), noise)
		tp.Backward(l.Total)
		want := float64(l.Total.Value.Item())
		tp.Release()
		opt.Update(ps, gs, f.LR)
		m2.ZeroGrad()
		if sm.Loss != want || sm.Skipped || sm.Step != step {
			t.Fatalf("step %d: metrics %+v, want loss %v", step, sm, want)
		}
		for i, p := range m1.Params() {
			for j, v := range p.V.Data() {
				if v != ps[i][j] {
					t.Fatalf("step %d: %s[%d] = %v, manual step %v", step, p.Name, j, v, ps[i][j])
				}
			}
		}
	}
	if _, err := NewFixed(m1, Fixed{}); err == nil {
		t.Error("NewFixed accepted no batch")
	}
}
