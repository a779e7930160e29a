package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

func TestMNISTPresetCounts(t *testing.T) {
	cfg, err := Preset("mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.NumParams(); got != 33363134 {
		t.Errorf("params = %d, want 33,363,134", got)
	}
	if got := len(m.params); got != 1269 {
		t.Errorf("parameter tensors = %d, want 1269", got)
	}
	keys := m.StateKeys()
	if len(keys) != 2016 {
		t.Errorf("state_dict entries = %d, want 2016", len(keys))
	}
	aliases, bns := 0, 0
	for _, k := range keys {
		if strings.HasSuffix(k, ".weight_normalized") {
			aliases++
		}
		if strings.HasSuffix(k, ".num_batches_tracked") {
			bns++
		}
	}
	if aliases != 105 || bns != 214 {
		t.Errorf("aliases %d (want 105), BN layers %d (want 214)", aliases, bns)
	}
	if len(m.convs) != 255 {
		t.Errorf("convs %d, want 255", len(m.convs))
	}
}

func tinyInput(cfg Config, b int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	s := cfg.ImageSize()
	x := tensor.New(b, s, s, cfg.ImageChannels())
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

func finite(vs ...float32) bool {
	for _, v := range vs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// TestArchInstances builds every well-defined arch_instance on a small configuration, runs a
// training step's forward, loss and backward, and checks shapes, finiteness and that the
// parameters received gradients.
func TestArchInstances(t *testing.T) {
	for _, arch := range []string{"res_mbconv", "res_elu", "res_bnelu", "res_bnswish", "mbconv_sep", "mbconv_sep11",
		"res53_mbconv", "res35_mbconv", "res55_mbconv", "mbconv_res", "mbconv_den"} {
		presets := []string{"tiny_cifar10"}
		if arch == "res_mbconv" || arch == "res_elu" {
			presets = append(presets, "tiny_mnist")
		}
		for _, preset := range presets {
			cfg, _ := Preset(preset)
			cfg.ArchInstance = arch
			if arch == "mbconv_den" {
				cfg.NumChannelsEnc, cfg.NumChannelsDec = 8, 8
			}
			m, err := New(cfg, 3)
			if err != nil {
				t.Fatalf("%s/%s: %v", arch, preset, err)
			}
			x := tinyInput(cfg, 2, 5)
			noise := RandNoise{rand.New(rand.NewPCG(7, 7))}
			tp := ad.NewTape()
			out := m.Forward(tp, x, true, noise)
			s := cfg.ImageSize()
			if want := []int{2, s, s, cfg.OutChannels()}; !slices.Equal(out.Logits.Shape(), want) {
				t.Errorf("%s/%s: logits %v, want %v", arch, preset, out.Logits.Shape(), want)
			}
			if len(out.KLAll) != cfg.NumGroups() {
				t.Errorf("%s/%s: %d KL terms, want %d", arch, preset, len(out.KLAll), cfg.NumGroups())
			}
			l := m.Loss(tp, out, x, 0.5, 1e-2, noise)
			tp.Backward(l.Total)
			if !finite(l.Total.Value.Item(), l.NormLoss, l.BNLoss) {
				t.Errorf("%s/%s: loss %v", arch, preset, l.Total.Value.Item())
			}
			for _, p := range m.Params() {
				nz := false
				for _, g := range p.V.Grad.Data() {
					nz = nz || g != 0
				}
				// Biases feeding a train-mode BN and SE weights behind a dead ReLU may
				// legitimately get no gradient.
				if !nz && !strings.HasSuffix(p.Name, ".bias") && !strings.Contains(p.Name, ".se.se.") {
					t.Errorf("%s/%s: %s has no gradient", arch, preset, p.Name)
				}
			}
			tp.Release()
		}
	}
}

func TestVanillaMode(t *testing.T) {
	cfg, _ := Preset("tiny_mnist")
	cfg.NumLatentScales, cfg.NumGroupsPerScale = 1, 1
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.enc) != 0 || len(m.dec) != 0 || m.stemDec == nil {
		t.Fatalf("vanilla: enc %d dec %d", len(m.enc), len(m.dec))
	}
	keys := strings.Join(m.StateKeys(), " ")
	if !strings.Contains(keys, "stem_decoder.weight") || !strings.Contains(keys, "prior_ftr0") {
		t.Errorf("vanilla keys lack stem_decoder / prior_ftr0")
	}
	x := tinyInput(cfg, 2, 1)
	tp := ad.NewTape()
	defer tp.Release()
	out := m.Forward(tp, x, true, RandNoise{rand.New(rand.NewPCG(1, 2))})
	if !slices.Equal(out.Logits.Shape(), []int{2, 32, 32, 1}) || len(out.KLAll) != 1 {
		t.Fatalf("logits %v, %d groups", out.Logits.Shape(), len(out.KLAll))
	}
	s := m.Sample(tp, 3, 1, RandNoise{rand.New(rand.NewPCG(1, 3))})
	if !slices.Equal(s.Logits.Shape(), []int{3, 32, 32, 1}) {
		t.Fatalf("sample %v", s.Logits.Shape())
	}
}

func TestStateDictRoundTrip(t *testing.T) {
	cfg, _ := Preset("tiny_cifar10")
	a, _ := New(cfg, 1)
	b, _ := New(cfg, 2)
	// make the buffers differ too
	tp := ad.NewTape()
	a.Forward(tp, tinyInput(cfg, 2, 1), true, RandNoise{rand.New(rand.NewPCG(1, 1))})
	tp.Release()
	sa := a.StateDict()
	if err := b.LoadStateDict(sa); err != nil {
		t.Fatal(err)
	}
	sb := b.StateDict()
	for i := range sa {
		if sa[i].Name != sb[i].Name || !slices.Equal(sa[i].Shape, sb[i].Shape) || !slices.Equal(sa[i].Data, sb[i].Data) {
			t.Fatalf("entry %d (%s) differs after the round trip", i, sa[i].Name)
		}
	}
	if sa[0].Name != "prior_ftr0" || !slices.Equal(sa[0].Shape, []int{32, 8, 8}) {
		t.Errorf("first entry %s %v", sa[0].Name, sa[0].Shape)
	}
	// prior_ftr0 layout: official [C,H,W] element (c,h,w) is engine [0,h,w,c]
	p := a.prior.Value
	if sa[0].Data[(5*8+2)*8+3] != p.Data()[(2*8+3)*32+5] {
		t.Error("prior_ftr0 is not converted to [C,H,W]")
	}
	// aliases and counters are optional
	var lean []NamedTensor
	for _, n := range sa {
		if !strings.HasSuffix(n.Name, ".weight_normalized") && !strings.HasSuffix(n.Name, ".num_batches_tracked") {
			lean = append(lean, n)
		}
	}
	if err := b.LoadStateDict(lean); err != nil {
		t.Errorf("without aliases and counters: %v", err)
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	cfg, _ := Preset("tiny_mnist")
	m, _ := New(cfg, 1)
	good := m.StateDict()
	before := m.StateDict()
	edit := func(f func(s []NamedTensor) []NamedTensor) []NamedTensor {
		s := make([]NamedTensor, len(good))
		copy(s, good)
		return f(s)
	}
	cases := []struct {
		name string
		sd   []NamedTensor
		want []string
	}{
		{"missing", edit(func(s []NamedTensor) []NamedTensor { return s[1:] }), []string{"missing prior_ftr0"}},
		{"unexpected", edit(func(s []NamedTensor) []NamedTensor {
			return append(s, NamedTensor{Name: "foo.weight", Shape: []int{1}, Data: []float32{0}})
		}), []string{"unexpected foo.weight"}},
		{"shape", edit(func(s []NamedTensor) []NamedTensor {
			s[1] = NamedTensor{Name: s[1].Name, Shape: []int{16, 1, 1, 9}, Data: s[1].Data}
			return s
		}), []string{"stem.weight: shape [16 1 1 9], want [16 1 3 3]"}},
		{"missing buffer", edit(func(s []NamedTensor) []NamedTensor {
			for i := range s {
				if strings.HasSuffix(s[i].Name, "running_var") {
					return append(s[:i], s[i+1:]...)
				}
			}
			return s
		}), []string{"missing pre_process.0._ops.0.bn_act.running_var"}},
	}
	for _, c := range cases {
		err := m.LoadStateDict(c.sd)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v does not mention %q", c.name, err, w)
			}
		}
	}
	after := m.StateDict()
	for i := range before {
		if !slices.Equal(before[i].Data, after[i].Data) {
			t.Fatalf("a failed load changed %s", before[i].Name)
		}
	}
}

func TestSampleAndEvalModes(t *testing.T) {
	cfg, _ := Preset("tiny_cifar10")
	m, _ := New(cfg, 1)
	bufs := m.Buffers()
	tp := ad.NewNoGradTape()
	defer tp.Release()
	m.SetTrain(false)
	out := m.Sample(tp, 3, 0.7, RandNoise{rand.New(rand.NewPCG(1, 1))})
	if !slices.Equal(out.Logits.Shape(), []int{3, 16, 16, 30}) || len(out.Z) != 2 {
		t.Fatalf("sample logits %v, %d latents", out.Logits.Shape(), len(out.Z))
	}
	// top prior: sigma = 1.01·t
	if s := out.Dists[0].Sigma.Data()[0]; math.Abs(float64(s)-1.01*0.7) > 1e-6 {
		t.Errorf("top sigma %v", s)
	}
	for i, b := range m.Buffers() {
		if !slices.Equal(b.Data, bufs[i].Data) {
			t.Fatalf("eval-mode sampling changed %s", b.Name)
		}
	}
	m.SetTrain(true) // BN re-adjustment mode updates decoder-side statistics only
	m.Sample(tp, 3, 0.7, RandNoise{rand.New(rand.NewPCG(1, 1))})
	changed := map[string]bool{}
	for i, b := range m.Buffers() {
		if !slices.Equal(b.Data, bufs[i].Data) {
			changed[strings.SplitN(b.Name, ".", 2)[0]] = true
		}
	}
	if changed["pre_process"] || changed["enc_tower"] || !changed["dec_tower"] || !changed["post_process"] {
		t.Errorf("train-mode sampling changed %v", changed)
	}
}
