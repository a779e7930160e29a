package model

import (
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/comm"
)

// A comm.Comm is a StatReducer: a data-parallel trainer passes its communicator to
// Model.SetStatReducer.
var _ ad.StatReducer = comm.Single()

// soloReducer is the reducer of a one-process group: sums are left as they are. It
// counts its calls.
type soloReducer struct{ calls int }

func (r *soloReducer) AllReduceSumFloat64([]float64) error { r.calls++; return nil }

// TestStatReducerSolo checks the synchronized batch-norm seam end to end: a model whose
// batch norms reduce through a one-process group trains bit-identically to one with
// local statistics (losses, gradients, running statistics), and every training-mode
// batch norm reduces three times per step (two forward, one backward).
func TestStatReducerSolo(t *testing.T) {
	cfg, err := Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	run := func(r ad.StatReducer) (*Model, []float32) {
		m, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil {
			m.SetStatReducer(r)
		}
		noise := RandNoise{rand.New(rand.NewPCG(5, 6))}
		var losses []float32
		for s := 0; s < 2; s++ {
			x := tinyInput(cfg, 3, uint64(10+s))
			m.ZeroGrad()
			tp := ad.NewTape()
			out := m.Forward(tp, x, true, noise)
			l := m.Loss(tp, out, x, 0.7, 1e-2, noise)
			tp.Backward(l.Total)
			if err := tp.Err(); err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l.Total.Value.Item())
			tp.Release()
		}
		return m, losses
	}
	red := &soloReducer{}
	local, l0 := run(nil)
	synced, l1 := run(red)
	if want := 2 * 3 * len(local.bns); red.calls != want {
		t.Errorf("%d reductions in 2 steps, want %d (3 per batch norm)", red.calls, want)
	}
	for i := range l0 {
		if l0[i] != l1[i] {
			t.Errorf("step %d loss %v with the reducer, %v without", i, l1[i], l0[i])
		}
	}
	pl, ps := local.Params(), synced.Params()
	for i := range pl {
		for j, g := range pl[i].V.Grad.Data() {
			if ps[i].V.Grad.Data()[j] != g {
				t.Errorf("gradient %s[%d] = %v with the reducer, %v without", pl[i].Name, j, ps[i].V.Grad.Data()[j], g)
				break
			}
		}
	}
	for i, b := range local.bns {
		s := synced.bns[i]
		for j := range b.RunMean.Data() {
			if b.RunMean.Data()[j] != s.RunMean.Data()[j] || b.RunVar.Data()[j] != s.RunVar.Data()[j] || b.NumBatches != s.NumBatches {
				t.Errorf("batch norm %d channel %d: running stats differ with the reducer", i, j)
				break
			}
		}
	}
}
