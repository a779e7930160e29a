package eval

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func binaryImages(n int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(n, 32, 32, 1)
	for i := range x.Data() {
		if r.Float32() < 0.3 {
			x.Data()[i] = 1
		}
	}
	return x
}

func TestDims(t *testing.T) {
	for _, c := range []struct {
		preset string
		want   int
	}{{"mnist", 784}, {"cifar10", 3072}, {"celeba_64", 12288}, {"tiny_cifar10", 768}} {
		cfg, _ := model.Preset(c.preset)
		if got := Dims(cfg); got != c.want {
			t.Errorf("%s: D = %d, want %d", c.preset, got, c.want)
		}
	}
}

func TestLogSumExp(t *testing.T) {
	got := logSumExp([]float64{1000, 1000 + math.Log(3)})
	if want := 1000 + math.Log(4); math.Abs(got-want) > 1e-9 {
		t.Fatalf("logsumexp = %v, want %v", got, want)
	}
	if !math.IsInf(logSumExp([]float64{math.Inf(-1)}), -1) {
		t.Fatal("logsumexp of -Inf")
	}
}

// TestNLLProperties: with flows the KL is the one-sample estimate log q − log p, so with
// one importance sample the bound equals the NELBO; the same seed gives the same result;
// maxImages truncates exactly; a wrong image shape is an error.
func TestNLLProperties(t *testing.T) {
	cfg, _ := model.Preset("tiny_cifar10")
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(6, 16, 16, 3)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x.Data() {
		x.Data()[i] = float32(r.IntN(256)) / 255
	}
	noise := func() model.Noise { return model.RandNoise{R: rand.New(rand.NewPCG(5, 6))} }
	r1, err := NLL(context.Background(), m, TensorSource(x, 6), Options{K: 1, MaxImages: 0, Noise: noise()})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r1.NLLNats-r1.NELBONats) > 1e-3*math.Abs(r1.NELBONats) {
		t.Errorf("K=1: NLL %v differs from NELBO %v", r1.NLLNats, r1.NELBONats)
	}
	if r1.NumImages != 6 || r1.Dims != 768 || math.Abs(r1.BPD-r1.NLLNats/(math.Ln2*768)) > 1e-12 {
		t.Errorf("result %+v", r1)
	}
	r1b, err := NLL(context.Background(), m, TensorSource(x, 6), Options{K: 1, MaxImages: 0, Noise: noise()})
	if err != nil {
		t.Fatal(err)
	}
	if r1b != r1 {
		t.Errorf("same seed, different results: %+v vs %+v", r1b, r1)
	}
	r8, err := NLL(context.Background(), m, TensorSource(x, 6), Options{K: 8, MaxImages: 0, Noise: noise()})
	if err != nil {
		t.Fatal(err)
	}
	if r8.NLLNats > r8.NELBONats+1e-6 {
		t.Errorf("IW bound %v above the NELBO %v", r8.NLLNats, r8.NELBONats)
	}
	r3, err := NLL(context.Background(), m, TensorSource(x, 4), Options{K: 1, MaxImages: 5, Noise: noise()})
	if err != nil {
		t.Fatal(err)
	}
	if r3.NumImages != 5 {
		t.Errorf("maxImages 5 evaluated %d", r3.NumImages)
	}
	if _, err := NLL(context.Background(), m, TensorSource(binaryImages(2, 1), 2), Options{K: 1, Noise: noise()}); err == nil {
		t.Error("wrong image shape accepted")
	}
}

func TestSampleAndReconstruct(t *testing.T) {
	m := tinyModel(t)
	noise := model.RandNoise{R: rand.New(rand.NewPCG(1, 1))}
	img, err := Sample(m, 3, 0.7, PixelDefault, noise, noise.R)
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Shape(); s[0] != 3 || s[1] != 32 || s[3] != 1 {
		t.Fatalf("sample shape %v", s)
	}
	for _, v := range img.Data() {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("pixel %v outside [0,1]", v)
		}
	}
	if _, err := Sample(m, 0, 1, PixelDefault, noise, noise.R); err == nil {
		t.Error("n = 0 accepted")
	}
	rec := Reconstruct(m, binaryImages(2, 9), PixelMean, noise, noise.R)
	if s := rec.Shape(); s[0] != 2 || s[1] != 32 {
		t.Fatalf("reconstruction shape %v", s)
	}
}

// TestEncodeDecodeReproducesForward: decoding the latents Encode returns gives the
// same image as the reconstruction of the same pass.
func TestEncodeDecodeReproducesForward(t *testing.T) {
	m := tinyModel(t)
	x := binaryImages(2, 4)
	enc := Encode(m, x, model.RandNoise{R: rand.New(rand.NewPCG(9, 9))})
	if len(enc.Z) != m.Cfg.NumGroups() || len(enc.Mu) != len(enc.Z) || len(enc.Sigma) != len(enc.Z) {
		t.Fatalf("%d latents for %d groups", len(enc.Z), m.Cfg.NumGroups())
	}
	rec := Reconstruct(m, x, PixelMean, model.RandNoise{R: rand.New(rand.NewPCG(9, 9))}, nil)
	dec, err := Decode(m, enc.Z, PixelMean, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range dec.Data() {
		if v != rec.Data()[i] {
			t.Fatalf("pixel %d: decoded %v, reconstructed %v", i, v, rec.Data()[i])
		}
	}
	if _, err := Decode(m, enc.Z[:1], PixelMean, nil); err == nil {
		t.Error("too few latents accepted")
	}
	bad := append([]*tensor.Tensor{tensor.New(2, 3, 3, 4)}, enc.Z[1:]...)
	if _, err := Decode(m, bad, PixelMean, nil); err == nil {
		t.Error("mis-shaped latent accepted")
	}
}

// referenceNLL is the evaluation one importance sample at a time on the training
// engine's no-grad tape, as NLL computed it before the inference path.
func referenceNLL(m *model.Model, x *tensor.Tensor, batch, k int, noise model.Noise) Result {
	res := Result{NumIWSamples: k, Dims: Dims(m.Cfg)}
	var sumNLL, sumELBO float64
	src := TensorSource(x, batch)
	for {
		xb, _, _ := src()
		if xb == nil {
			break
		}
		n := xb.Shape()[0]
		logw := make([][]float64, n)
		for i := range logw {
			logw[i] = make([]float64, k)
		}
		for j := 0; j < k; j++ {
			tp := ad.NewNoGradTape()
			out := m.Forward(tp, xb, false, noise)
			recon := m.ReconLoss(tp, out, xb).Data()
			for i := 0; i < n; i++ {
				kl := 0.0
				for _, g := range out.KLAll {
					kl += float64(g.Data()[i])
				}
				sumELBO += float64(recon[i]) + kl
				logw[i][j] = -float64(recon[i]) - float64(out.LogQ.Data()[i]) + float64(out.LogP.Data()[i])
			}
			tp.Release()
		}
		for i := 0; i < n; i++ {
			sumNLL -= logSumExp(logw[i]) - math.Log(float64(k))
		}
		res.NumImages += n
	}
	res.NLLNats = sumNLL / float64(res.NumImages)
	res.NELBONats = sumELBO / float64(res.NumImages*k)
	return res
}

// TestNLLMatchesOneSampleAtATime: evaluating the K samples of a batch together, in
// passes of any size (a budget of one sample per pass, a few, or all K at once), with
// the batch's images split into any number of parts evaluated at the same time, gives
// the numbers of one forward pass per sample, for every decoder family.
func TestNLLMatchesOneSampleAtATime(t *testing.T) {
	const n, batch, k = 5, 3, 4
	cases := map[string]func(c *model.Config){
		"tiny_mnist":   func(c *model.Config) {},
		"tiny_cifar10": func(c *model.Config) {},
		"normal":       func(c *model.Config) { c.NumMixtureDec = 1 },
	}
	for name, edit := range cases {
		preset := name
		if name == "normal" {
			preset = "tiny_cifar10"
		}
		cfg, err := model.Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		edit(&cfg)
		m, err := model.New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		s := cfg.ImageSize()
		x := tensor.New(n, s, s, cfg.ImageChannels())
		r := rand.New(rand.NewPCG(3, 3))
		for i := range x.Data() {
			if cfg.Binary() {
				x.Data()[i] = float32(r.IntN(2))
			} else {
				x.Data()[i] = float32(r.IntN(256)) / 255
			}
		}
		noise := func() model.Noise { return model.RandNoise{R: rand.New(rand.NewPCG(5, 6))} }
		want := referenceNLL(m, x, batch, k, noise())
		for _, run := range []struct {
			budget  int64
			workers int
		}{{1, 1}, {300 << 10, 1}, {1 << 40, 1}, {1, 2}, {300 << 10, 3}, {1 << 40, 2}} {
			budget := run.budget
			got, err := NLL(context.Background(), m, TensorSource(x, batch), Options{K: k, Noise: noise(), MemoryBudget: budget, Workers: run.workers})
			if err != nil {
				t.Fatal(err)
			}
			if got.NumImages != n || got.Partial {
				t.Fatalf("%s, budget %d, %d workers: %+v", name, budget, run.workers, got)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"NLL", got.NLLNats, want.NLLNats}, {"NELBO", got.NELBONats, want.NELBONats}} {
				if math.Abs(c.got-c.want) > 1e-5*math.Abs(c.want) {
					t.Errorf("%s, budget %d, %d workers: %s %v, one sample at a time %v", name, budget, run.workers, c.what, c.got, c.want)
				}
			}
		}
	}
}

// TestNLLStops: a cancelled context stops the evaluation; the result covers the
// images done, marked partial, and equals the evaluation of those images alone.
func TestNLLStops(t *testing.T) {
	m := tinyModel(t)
	x := binaryImages(6, 8)
	noise := func() model.Noise { return model.RandNoise{R: rand.New(rand.NewPCG(4, 4))} }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []Progress
	got, err := NLL(ctx, m, TensorSource(x, 2), Options{K: 3, Noise: noise(), Progress: func(p Progress) {
		calls = append(calls, p)
		if p.Images >= 2 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Partial || got.NumImages != 2 {
		t.Fatalf("stopped evaluation: %+v", got)
	}
	if len(calls) == 0 || calls[len(calls)-1].Forwards != 6 {
		t.Errorf("progress calls %+v, want the last at 6 forwards", calls)
	}
	want, err := NLL(context.Background(), m, TensorSource(x, 2), Options{K: 3, MaxImages: 2, Noise: noise()})
	if err != nil {
		t.Fatal(err)
	}
	if want.Partial || got.NLLNats != want.NLLNats || got.NELBONats != want.NELBONats {
		t.Errorf("partial result %+v, the same images alone %+v", got, want)
	}
	// stopped before the first image: an error
	if _, err := NLL(ctx, m, TensorSource(x, 2), Options{K: 3, Noise: noise()}); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("evaluation with a cancelled context: %v", err)
	}
}

// panickyNoise is RandNoise that panics at its after-th draw.
type panickyNoise struct {
	model.RandNoise
	calls, after int
}

func (p *panickyNoise) Normal(shape ...int) *tensor.Tensor {
	p.calls++
	if p.calls == p.after {
		panic("noise source failed")
	}
	return p.RandNoise.Normal(shape...)
}

// TestNLLNoisePanic: a panic of the noise source while the passes run reaches the
// caller of NLL (the noise is drawn on another goroutine, ahead of the parts), with
// no part left waiting for noise, for one and for several parts.
func TestNLLNoisePanic(t *testing.T) {
	m := tinyModel(t)
	x := binaryImages(4, 8)
	groups := len(m.LatentShapes(1))
	for _, workers := range []int{1, 2} {
		noise := &panickyNoise{RandNoise: model.RandNoise{R: rand.New(rand.NewPCG(6, 6))}, after: 3*groups + 1}
		var got any
		func() {
			defer func() { got = recover() }()
			_, _ = NLL(context.Background(), m, TensorSource(x, 4), Options{K: 8, MemoryBudget: 1, Workers: workers, Noise: noise})
		}()
		if s, ok := got.(string); !ok || s != "noise source failed" {
			t.Errorf("%d workers: NLL with a failing noise source: recovered %v", workers, got)
		}
	}
}

// TestReadjustBNOnInferenceTape: BN re-adjustment on the inference path leaves the
// same running statistics, bit for bit, as generative passes on the recording-free
// training tape.
func TestReadjustBNOnInferenceTape(t *testing.T) {
	got, want := tinyModel(t), tinyModel(t)
	if err := ReadjustBN(got, 3, 4, 0.7, model.RandNoise{R: rand.New(rand.NewPCG(2, 5))}); err != nil {
		t.Fatal(err)
	}
	noise := model.RandNoise{R: rand.New(rand.NewPCG(2, 5))}
	want.SetTrain(true)
	for i := 0; i < 3; i++ {
		tp := ad.NewNoGradTape()
		want.Sample(tp, 4, 0.7, noise)
		tp.Release()
	}
	want.SetTrain(false)
	wb, gb := want.Buffers(), got.Buffers()
	changed := false
	for i := range wb {
		for j, v := range wb[i].Data {
			if gb[i].Data[j] != v {
				t.Fatalf("%s[%d] = %v, want %v", gb[i].Name, j, gb[i].Data[j], v)
			}
		}
		if strings.HasSuffix(wb[i].Name, "num_batches_tracked") && wb[i].Data[0] == 3 {
			changed = true
		}
	}
	if !changed {
		t.Error("the re-adjustment counted no batches")
	}
}
