package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

func TestWeightNormInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := NewConv(rng, ConvSpec{In: 3, Out: 5, Kernel: 3, Opts: ad.ConvOpts{Pad: 1}, Bias: true, WeightNorm: true})
	tp := ad.NewTape()
	defer tp.Release()
	w := c.Weight(tp).Data()
	raw := c.W.Data()
	for o := 0; o < 5; o++ {
		var n float64
		for _, v := range raw[o*27 : (o+1)*27] {
			n += float64(v) * float64(v)
			if math.Abs(float64(v)) > 1/math.Sqrt(27) {
				t.Fatalf("weight %v outside the default init bound", v)
			}
		}
		n = math.Sqrt(n)
		if got := float64(c.LogWN.Data()[o]); math.Abs(got-math.Log(n+0.01)) > 1e-6 {
			t.Errorf("log_weight_norm[%d] = %v, want ln(‖w‖+0.01) = %v", o, got, math.Log(n+0.01))
		}
		// w_eff = w·(‖w‖+0.01)/(‖w‖+1e-5)
		for j := o * 27; j < (o+1)*27; j++ {
			want := float64(raw[j]) * (n + 0.01) / (n + 1e-5)
			if math.Abs(float64(w[j])-want) > 1e-6 {
				t.Fatalf("w_eff[%d] = %v, want %v", j, w[j], want)
			}
		}
	}
	eff := c.EffectiveWeight(tp)
	if c.EffectiveWeight(tp) != eff {
		t.Error("EffectiveWeight recomputed the weight on the same tape")
	}
	tp.Release()
	if c.EffectiveWeight(tp) == eff {
		t.Error("EffectiveWeight kept a weight across Release")
	}
}

func TestARMask(t *testing.T) {
	// 3×3, 2→4 channels, zero_diag: taps above/left of the centre open; centre tap: output o
	// (block o/2) sees inputs j < o/2.
	m := ARMask(2, 4, 3, 1, true, false)
	at := func(m *tensor.Tensor, o, y, x, c int) float32 {
		s := m.Shape()
		return m.Data()[((o*s[1]+y)*s[2]+x)*s[3]+c]
	}
	for o := 0; o < 4; o++ {
		for c := 0; c < 2; c++ {
			for y := 0; y < 3; y++ {
				for x := 0; x < 3; x++ {
					var want float32
					switch {
					case y == 0, y == 1 && x == 0:
						want = 1
					case y == 1 && x == 1 && c < o/2:
						want = 1
					}
					if got := at(m, o, y, x, c); got != want {
						t.Errorf("mask[%d,%d,%d,%d] = %v, want %v", o, y, x, c, got, want)
					}
				}
			}
		}
	}
	// mirror flips both spatial axes
	mm := ARMask(2, 4, 3, 1, true, true)
	for o := 0; o < 4; o++ {
		for y := 0; y < 3; y++ {
			for x := 0; x < 3; x++ {
				for c := 0; c < 2; c++ {
					if at(mm, o, y, x, c) != at(m, o, 2-y, 2-x, c) {
						t.Fatal("mirrored mask is not the spatial flip")
					}
				}
			}
		}
	}
	// 1×1, 6→2 (c_in > c_out, r = 3): output i sees inputs j < 3(i+1)
	m1 := ARMask(6, 2, 1, 1, false, false)
	if want := []float32{1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1}; !slices.Equal(m1.Data(), want) {
		t.Errorf("1×1 mask %v, want %v", m1.Data(), want)
	}
	// depthwise: centre open unless zero_diag
	dw := ARMask(4, 4, 5, 4, false, false)
	if at(dw, 2, 2, 2, 0) != 1 || at(dw, 2, 2, 3, 0) != 0 || at(dw, 2, 1, 4, 0) != 1 {
		t.Error("depthwise mask")
	}
}

func TestMaskedWeightNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mask := ARMask(2, 4, 3, 1, true, false)
	c := NewConv(rng, ConvSpec{In: 2, Out: 4, Kernel: 3, Opts: ad.ConvOpts{Pad: 1}, WeightNorm: true, Mask: mask})
	tp := ad.NewTape()
	defer tp.Release()
	w := c.Weight(tp).Data()
	for i, v := range mask.Data() {
		if v == 0 && w[i] != 0 {
			t.Fatalf("masked tap %d has weight %v", i, w[i])
		}
	}
}

// TestDataInit checks the res_elu data-dependent initialisation: after the first forward pass
// the output has zero mean and standard deviation 1/5 per channel (unbiased).
func TestDataInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := NewConv(rng, ConvSpec{In: 3, Out: 4, Kernel: 3, Opts: ad.ConvOpts{Pad: 1}, Bias: true, WeightNorm: true})
	c.DataInit = true
	x := tensor.New(2, 5, 5, 3)
	for i := range x.Data() {
		x.Data()[i] = float32(rng.NormFloat64())*2 + 1
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	out := c.Forward(tp, ad.Const(x)).Data()
	for o := 0; o < 4; o++ {
		var s, q float64
		n := len(out) / 4
		for i := 0; i < n; i++ {
			s += float64(out[i*4+o])
		}
		mean := s / float64(n)
		for i := 0; i < n; i++ {
			d := float64(out[i*4+o]) - mean
			q += d * d
		}
		std := math.Sqrt(q / float64(n-1))
		if math.Abs(mean) > 1e-5 || math.Abs(std-0.2) > 1e-5 {
			t.Errorf("channel %d: mean %v std %v, want 0 and 0.2", o, mean, std)
		}
	}
	before := slices.Clone(c.LogWN.Data())
	x.Data()[0] += 10
	c.Forward(tp, ad.Const(x))
	if !slices.Equal(before, c.LogWN.Data()) {
		t.Error("data init ran twice")
	}
	c.ResetDataInit()
	c.Forward(tp, ad.Const(x))
	if slices.Equal(before, c.LogWN.Data()) {
		t.Error("data init did not re-run after ResetDataInit")
	}
}

func TestSE(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := NewSE(rng, 20)
	if SEHidden(20) != 4 || SEHidden(128) != 8 || s.L1.W.Shape()[0] != 4 {
		t.Fatal("SE hidden width")
	}
	x := tensor.New(2, 3, 3, 20)
	for i := range x.Data() {
		x.Data()[i] = float32(rng.NormFloat64())
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	y := s.Forward(tp, ad.Const(x)).Data()
	// reference: per-sample gate
	for b := 0; b < 2; b++ {
		v := make([]float64, 20)
		for p := 0; p < 9; p++ {
			for c := 0; c < 20; c++ {
				v[c] += float64(x.Data()[(b*9+p)*20+c]) / 9
			}
		}
		h := make([]float64, 4)
		for j := range h {
			a := float64(s.L1.B.Data()[j])
			for c := range v {
				a += float64(s.L1.W.Data()[j*20+c]) * v[c]
			}
			h[j] = math.Max(a, 0)
		}
		for c := 0; c < 20; c++ {
			a := float64(s.L2.B.Data()[c])
			for j := range h {
				a += float64(s.L2.W.Data()[c*4+j]) * h[j]
			}
			g := 1 / (1 + math.Exp(-a))
			for p := 0; p < 9; p++ {
				i := (b*9+p)*20 + c
				if math.Abs(float64(y[i])-float64(x.Data()[i])*g) > 1e-5 {
					t.Fatalf("SE output %d: %v, want %v", i, y[i], float64(x.Data()[i])*g)
				}
			}
		}
	}
}

func TestBNCounter(t *testing.T) {
	b := NewBN(3, true)
	x := tensor.New(4, 3)
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	b.Forward(tp, ad.Const(x), true)
	b.Forward(tp, ad.Const(x), false)
	if b.NumBatches != 1 {
		t.Errorf("num_batches_tracked %d, want 1", b.NumBatches)
	}
	// running mean after one step: 0.05·batch mean
	if got := b.RunMean.Data()[0]; math.Abs(float64(got)-0.05*4.5) > 1e-6 {
		t.Errorf("running mean %v", got)
	}
}

// TestBNRunningStats checks the momentum update of the running statistics, with the
// unbiased variance of the batch.
func TestBNRunningStats(t *testing.T) {
	// channel 0 holds 1,2,3,4: mean 2.5, biased var 1.25, unbiased 5/3.
	b := NewBN(2, false)
	x := ad.Const(tensor.FromData([]float32{1, 0, 2, 0, 3, 0, 4, 0}, 4, 2))
	tp := ad.NewNoGradTape()
	defer tp.Release()
	y := b.Forward(tp, x, true).Data()
	if d := math.Abs(float64(b.RunMean.Data()[0]) - 0.05*2.5); d > 1e-7 {
		t.Errorf("running mean %v", b.RunMean.Data())
	}
	if d := math.Abs(float64(b.RunVar.Data()[0]) - (0.95 + 0.05*5.0/3)); d > 1e-6 {
		t.Errorf("running var %v", b.RunVar.Data())
	}
	if b.RunVar.Data()[1] != 0.95 {
		t.Errorf("constant channel's running var %v, want 0.95", b.RunVar.Data()[1])
	}
	want := (1 - 2.5) / math.Sqrt(1.25+1e-5)
	if d := math.Abs(float64(y[0]) - want); d > 1e-5 {
		t.Errorf("normalised %v, want %v", y[0], want)
	}
}

// TestBNRecomputedOnce checks that a BN inside a recomputed segment updates its running
// statistics and counter once per pass, exactly as when it runs plainly.
func TestBNRecomputedOnce(t *testing.T) {
	run := func(recompute bool) *BN {
		b := NewBN(3, true)
		x := ad.NewParam(tensor.New(2, 2, 2, 3))
		for i := range x.Data() {
			x.Data()[i] = float32(i%7) - 2
		}
		tp := ad.NewTape()
		defer tp.Release()
		f := func(tp *ad.Tape, in []*ad.Var) *ad.Var { return b.Forward(tp, in[0], true) }
		var y *ad.Var
		if recompute {
			y = tp.Recompute(f, x)
		} else {
			y = f(tp, []*ad.Var{x})
		}
		tp.Backward(tp.Sum(tp.Mul(y, y), false))
		return b
	}
	plain, rec := run(false), run(true)
	if rec.NumBatches != 1 || plain.NumBatches != 1 {
		t.Errorf("num_batches_tracked %d recomputed, %d plain, want 1", rec.NumBatches, plain.NumBatches)
	}
	for j := range plain.RunMean.Data() {
		if rec.RunMean.Data()[j] != plain.RunMean.Data()[j] || rec.RunVar.Data()[j] != plain.RunVar.Data()[j] {
			t.Fatalf("channel %d: running stats %v/%v recomputed, %v/%v plain", j,
				rec.RunMean.Data()[j], rec.RunVar.Data()[j], plain.RunMean.Data()[j], plain.RunVar.Data()[j])
		}
	}
}
