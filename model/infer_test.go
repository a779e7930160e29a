package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// inferCases are the tiny configurations of every decoder family: Bernoulli
// (tiny_mnist), discretized logistic mixture with flows (tiny_cifar10) and the Normal
// decoder.
func inferCases(t *testing.T) map[string]Config {
	t.Helper()
	out := map[string]Config{}
	for _, name := range []string{"tiny_mnist", "tiny_cifar10"} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	c := out["tiny_cifar10"]
	c.NumMixtureDec = 1
	out["tiny_cifar10 normal decoder"] = c
	return out
}

// perturbBN gives every batch norm non-trivial running statistics and affine
// parameters, so that eval-mode batch normalisation (and any folding of it) matters.
func perturbBN(m *Model, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 3))
	for _, b := range m.BatchNorms() {
		for i := range b.RunMean.Data() {
			b.RunMean.Data()[i] = 0.3 * float32(r.NormFloat64())
			b.RunVar.Data()[i] = 0.5 + r.Float32()
			b.Gamma.Data()[i] = 0.8 + 0.4*r.Float32()
			b.Beta.Data()[i] = 0.2 * float32(r.NormFloat64())
		}
	}
}

func testImages(cfg Config, n int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	s := cfg.ImageSize()
	x := tensor.New(n, s, s, cfg.ImageChannels())
	for i := range x.Data() {
		if cfg.Binary() {
			if r.Float32() < 0.3 {
				x.Data()[i] = 1
			}
		} else {
			x.Data()[i] = float32(r.IntN(256)) / 255
		}
	}
	return x
}

// closeTo fails unless got and want agree within float32 summation tolerance.
func closeTo(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	tol := 1e-5 * (1 + scale)
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%s[%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, got[i], want[i], d, tol)
		}
	}
}

// TestInferenceMatchesTrainingTape: the inference path (ForwardSamples on an inference
// tape, with the encoder shared by the samples and dead values freed) gives the
// values of the training tape's eval-mode Forward on the stacked images, for every
// decoder family, and leaves the running statistics alone.
func TestInferenceMatchesTrainingTape(t *testing.T) {
	const n, k = 3, 2
	for name, cfg := range inferCases(t) {
		t.Run(name, func(t *testing.T) {
			m, err := New(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			perturbBN(m, 7)
			x := testImages(cfg, n, 5)
			stacked := tensor.New(append([]int{k * n}, x.Shape()[1:]...)...)
			for j := 0; j < k; j++ {
				copy(stacked.Data()[j*x.Len():], x.Data())
			}
			noise := func() Noise { return RandNoise{R: rand.New(rand.NewPCG(11, 12))} }

			ref := ad.NewTape()
			defer ref.Release()
			want := m.Forward(ref, stacked, false, noise())
			wantRecon := m.ReconLoss(ref, want, stacked)
			before := m.Buffers()

			inf := ad.NewInferenceTape()
			defer inf.Release()
			got := m.ForwardSamples(inf, x, k, noise())
			gotRecon := m.ReconLoss(inf, got, stacked)

			closeTo(t, "logits", got.Logits.Data(), want.Logits.Data())
			closeTo(t, "recon", gotRecon.Data(), wantRecon.Data())
			closeTo(t, "log q", got.LogQ.Data(), want.LogQ.Data())
			closeTo(t, "log p", got.LogP.Data(), want.LogP.Data())
			for l := range want.KLAll {
				closeTo(t, "kl", got.KLAll[l].Data(), want.KLAll[l].Data())
				closeTo(t, "z", got.ZDec[l].Data(), want.ZDec[l].Data())
			}
			for i, b := range m.Buffers() {
				if !equal(b.Data, before[i].Data) {
					t.Fatalf("the inference pass changed %s", b.Name)
				}
			}
			if inf.PeakBytes() >= totalBytes(ref) {
				t.Errorf("inference tape peaked at %d bytes, the training tape holds %d", inf.PeakBytes(), totalBytes(ref))
			}
		})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// totalBytes is what a tape that frees nothing holds at the end of its pass.
func totalBytes(tp *ad.Tape) int64 { return tp.PeakBytes() }
