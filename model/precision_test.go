package model

import (
	"math"
	"testing"

	"github.com/nvae-go/nvae/ad"
)

// TestBF16Model checks the bf16 model end to end on tiny_cifar10 (BN+Swish,
// inverted residual, depthwise, flows): recomputed cells give bit-identical losses and
// gradients in bf16 too (segments inherit the precision, compacted values widen
// exactly), and the bf16 gradients are close to the float32 ones (2% in norm over all
// parameters; per tensor 5% of its largest element plus 0.1% of the largest gradient)
// without being equal.
func TestBF16Model(t *testing.T) {
	const preset = "tiny_cifar10"
	l32, g32, _ := trainSteps(t, preset, false, 2, ad.FP32)
	l16, g16, _ := trainSteps(t, preset, false, 2, ad.BF16)
	r16, h16, _ := trainSteps(t, preset, true, 2, ad.BF16)
	for i := range l16 {
		if l16[i] != r16[i] {
			t.Errorf("step %d: bf16 loss %v with recomputed cells, %v without", i, r16[i], l16[i])
		}
		if d := math.Abs(float64(l16[i]-l32[i])) / math.Abs(float64(l32[i])); d > 0.01 || l16[i] == l32[i] {
			t.Errorf("step %d: bf16 loss %v, fp32 %v: want different, within 1%%", i, l16[i], l32[i])
		}
	}
	// Gradients that vanish analytically (a bias or weight norm right before a batch
	// norm) hold float32 noise; they are compared against the largest gradient.
	global := 0.0
	for i := range g32 {
		for _, v := range g32[i].Data {
			global = max(global, math.Abs(float64(v)))
		}
	}
	differ := false
	var num, den float64
	for i := range g16 {
		scale := 0.0
		for _, v := range g32[i].Data {
			scale = max(scale, math.Abs(float64(v)))
		}
		worst := 0.0
		for j, v := range g16[i].Data {
			if math.Float32bits(v) != math.Float32bits(h16[i].Data[j]) {
				t.Fatalf("%s[%d]: bf16 gradient %v with recomputed cells, %v without", g16[i].Name, j, h16[i].Data[j], v)
			}
			d := float64(v - g32[i].Data[j])
			worst = max(worst, math.Abs(d))
			num += d * d
			den += float64(g32[i].Data[j]) * float64(g32[i].Data[j])
			differ = differ || v != g32[i].Data[j]
		}
		if worst > 0.05*scale+1e-3*global {
			t.Errorf("%s: max |bf16 − fp32| gradient %g, over 5%% of max |fp32| %g + 0.1%% of the largest gradient %g", g16[i].Name, worst, scale, global)
		}
	}
	if rel := math.Sqrt(num / den); rel > 0.02 {
		t.Errorf("‖bf16 − fp32‖/‖fp32‖ over all gradients = %.4f, want ≤ 0.02", rel)
	} else {
		t.Logf("‖bf16 − fp32‖/‖fp32‖ over all gradients = %.4f", rel)
	}
	if !differ {
		t.Error("bf16 gradients equal the float32 ones: bf16 did not run")
	}
}

// TestBF16Inference checks that the inference tape (eval, sample) runs in bf16 when
// the model asks for it: the eval-mode forward pass with folded batch norms and the
// sampling pass give logits and KL terms close to float32's (1% of the largest
// logit; KL sums within 2%) but not equal.
func TestBF16Inference(t *testing.T) {
	cfg, err := Preset("tiny_cifar10")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := tinyInput(cfg, 3, 4)
	{ // one training pass: data-dependent initialisation and running statistics
		tp := ad.NewTape()
		m.Forward(tp, x, true, NewSeededNoise(1))
		tp.Release()
	}
	type res struct{ logits, kl []float32 }
	pass := func(p ad.Precision, sample bool) res {
		m.Precision = p
		tp := ad.NewInferenceTape()
		defer tp.Release()
		var out *Output
		if sample {
			out = m.Sample(tp, 3, 1, NewSeededNoise(2))
		} else {
			out = m.Forward(tp, x, false, NewSeededNoise(2))
		}
		r := res{logits: append([]float32(nil), out.Logits.Data()...)}
		for _, k := range out.KLAll {
			s := float32(0)
			for _, v := range k.Data() {
				s += v
			}
			r.kl = append(r.kl, s)
		}
		return r
	}
	for _, sample := range []bool{false, true} {
		a, b := pass(ad.FP32, sample), pass(ad.BF16, sample)
		scale, worst, differ := 0.0, 0.0, false
		for i, v := range a.logits {
			scale = max(scale, math.Abs(float64(v)))
			worst = max(worst, math.Abs(float64(v-b.logits[i])))
			differ = differ || v != b.logits[i]
		}
		if !differ || worst > 0.01*scale {
			t.Errorf("sample=%v: max |bf16 − fp32| logit %g (largest %g): want nonzero and ≤ 1%%", sample, worst, scale)
		}
		for g := range a.kl {
			if !sample && math.Abs(float64(a.kl[g]-b.kl[g])) > 0.02*math.Abs(float64(a.kl[g]))+1e-3 {
				t.Errorf("group %d: KL %v in bf16, %v in fp32", g, b.kl[g], a.kl[g])
			}
		}
	}
	m.Precision = ad.FP32
}
