package model

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestGroupsAndAlpha(t *testing.T) {
	cases := []struct {
		preset string
		groups []int
		alpha  []float32 // run-length: value, count pairs
	}{
		{"mnist", []int{10, 5}, []float32{1, 5, 2, 10}},
		{"cifar10", []int{30}, []float32{1, 30}},
		{"celeba_64", []int{20, 10, 5}, []float32{1, 5, 2, 10, 4, 20}},
		{"imagenet_32", []int{28}, []float32{1, 28}},
		{"celeba_256", []int{16, 8, 4, 4, 4}, []float32{1, 4, 4, 4, 16, 4, 32, 8, 64, 16}},
		{"ffhq", []int{16, 8, 4, 4, 4}, []float32{1, 4, 4, 4, 16, 4, 32, 8, 64, 16}},
		{"tiny_mnist", []int{2, 1}, []float32{1, 1, 2, 2}},
	}
	for _, c := range cases {
		cfg, err := Preset(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", c.preset, err)
		}
		if g := cfg.GroupsPerScale(); !slices.Equal(g, c.groups) {
			t.Errorf("%s: groups %v, want %v", c.preset, g, c.groups)
		}
		var want []float32
		for i := 0; i < len(c.alpha); i += 2 {
			for j := 0; j < int(c.alpha[i+1]); j++ {
				want = append(want, c.alpha[i])
			}
		}
		if a := cfg.KLBalanceAlpha(); !slices.Equal(a, want) {
			t.Errorf("%s: alpha %v, want %v", c.preset, a, want)
		}
	}
}

// TestGroupsPerScaleTable checks g_s and the α table of docs/model.md#kl-balancing beyond the presets.
func TestGroupsPerScaleTable(t *testing.T) {
	tests := []struct {
		name       string
		L, G       int
		ada        bool
		minG       int
		want       []int
		alphaCount []int // value v repeated count times
	}{
		{"no ada", 3, 4, false, 1, []int{4, 4, 4}, []int{1, 4, 4, 4, 16, 4}},
		{"ada to one", 4, 4, true, 1, []int{4, 2, 1, 1}, []int{1, 1, 4, 1, 8, 2, 16, 4}},
		{"ada floor", 5, 16, true, 4, []int{16, 8, 4, 4, 4}, []int{1, 4, 4, 4, 16, 4, 32, 8, 64, 16}},
		{"vanilla", 1, 1, false, 1, []int{1}, []int{1, 1}},
		{"F1", 2, 2, true, 1, []int{2, 1}, []int{1, 1, 2, 2}},
	}
	for _, tc := range tests {
		c := Config{NumLatentScales: tc.L, NumGroupsPerScale: tc.G, AdaGroups: tc.ada, MinGroupsPerScale: tc.minG}
		if g := c.GroupsPerScale(); !slices.Equal(g, tc.want) {
			t.Errorf("%s: groups %v, want %v", tc.name, g, tc.want)
		}
		var want []float32
		for i := 0; i < len(tc.alphaCount); i += 2 {
			for range tc.alphaCount[i+1] {
				want = append(want, float32(tc.alphaCount[i]))
			}
		}
		if got := c.KLBalanceAlpha(); !slices.Equal(got, want) {
			t.Errorf("%s: α = %v, want %v", tc.name, got, want)
		}
	}
}

// TestKLBalanceAlphaRounding checks the official float32 arithmetic on a case where it
// differs from a float64 division: groups [27, 13] → decoder order 13 × float32(1/13),
// then 27 × float32(4/27), divided by float32(1/13) in float32.
func TestKLBalanceAlphaRounding(t *testing.T) {
	c := Config{NumLatentScales: 2, NumGroupsPerScale: 27, AdaGroups: true, MinGroupsPerScale: 1}
	got := c.KLBalanceAlpha()
	lo := float32(1.0 / 13)
	hi := float32(4.0/27) / lo
	if hi == float32((4.0/27)/(1.0/13)) {
		t.Fatal("the case does not tell float32 from float64 division")
	}
	if len(got) != 40 {
		t.Fatalf("%d weights, want 40", len(got))
	}
	for i, a := range got {
		want := hi
		if i < 13 {
			want = 1
		}
		if a != want {
			t.Fatalf("α[%d] = %v, want %v", i, a, want)
		}
	}
}

func TestImageSizeAndOutputs(t *testing.T) {
	cases := []struct {
		dataset    string
		mix        int
		size, cimg int
		cout       int
	}{
		{"mnist", 10, 32, 1, 1},
		{"omniglot", 10, 32, 1, 1},
		{"cifar10", 10, 32, 3, 100},
		{"cifar10", 1, 32, 3, 6},
		{"celeba_64", 10, 64, 3, 100},
		{"celeba_256", 10, 256, 3, 100},
		{"imagenet_32", 3, 32, 3, 30},
		{"ffhq", 10, 256, 3, 100},
		{"lsun_church_128", 10, 128, 3, 100},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		cfg.Dataset, cfg.NumMixtureDec = c.dataset, c.mix
		if cfg.ImageSize() != c.size || cfg.ImageChannels() != c.cimg || cfg.OutChannels() != c.cout {
			t.Errorf("%s M=%d: size %d channels %d out %d, want %d %d %d", c.dataset, c.mix,
				cfg.ImageSize(), cfg.ImageChannels(), cfg.OutChannels(), c.size, c.cimg, c.cout)
		}
	}
}

func TestValidate(t *testing.T) {
	base, _ := Preset("tiny_mnist")
	cases := []struct {
		name string
		edit func(c *Config)
		want string // substring of the error; "" = valid
	}{
		{"ok", func(c *Config) {}, ""},
		{"post != pre", func(c *Config) { c.NumPostprocBlocks = 2 }, "num_postprocess_blocks (2) must equal num_preprocess_blocks (1)"},
		{"indivisible size", func(c *Config) { c.Dataset, c.InputSize, c.NumLatentScales = "cifar10", 20, 3 }, "not divisible"},
		{"unknown arch", func(c *Config) { c.ArchInstance = "foo" }, `unknown arch_instance "foo"`},
		{"res_mbconv9", func(c *Config) { c.ArchInstance = "res_mbconv9" }, "undefined ops"},
		{"stacked_mnist", func(c *Config) { c.Dataset = "stacked_mnist" }, "not runnable"},
		{"unknown dataset", func(c *Config) { c.Dataset = "svhn" }, `unknown dataset "svhn"`},
		{"zero groups", func(c *Config) { c.NumGroupsPerScale = 0 }, "num_groups_per_scale must be at least 1"},
		{"bits", func(c *Config) { c.NumXBits = 9 }, "num_x_bits"},
		{"mnist crop size", func(c *Config) { c.InputSize = 64 }, "needs input size 32"},
		{"ada min", func(c *Config) { c.MinGroupsPerScale = 0 }, "min_groups_per_scale"},
		{"anneal", func(c *Config) { c.WeightDecayNormAnn, c.WeightDecayNorm = true, 0 }, "weight_decay_norm_anneal"},
		{"vanilla widths", func(c *Config) { c.NumLatentScales, c.NumGroupsPerScale, c.NumChannelsDec = 1, 1, 8 }, "vanilla"},
		{"vanilla ok", func(c *Config) { c.NumLatentScales, c.NumGroupsPerScale = 1, 1 }, ""},
	}
	for _, c := range cases {
		cfg := base
		c.edit(&cfg)
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
		if c.want != "" {
			if _, err := New(cfg, 1); err == nil {
				t.Errorf("%s: New accepted an invalid config", c.name)
			}
		}
	}
}

func TestConfigFromArgs(t *testing.T) {
	// The F1 fixture's argparse namespace, with an old checkpoint's missing flags removed.
	raw := `{"ada_groups": true, "arch_instance": "res_mbconv", "batch_size": 200, "dataset": "mnist",
	"epochs": 200, "kl_anneal_portion": 0.3, "num_channels_dec": 16, "num_channels_enc": 16,
	"num_groups_per_scale": 2, "num_latent_per_group": 4, "num_latent_scales": 2, "num_nf": 0,
	"num_postprocess_blocks": 1, "num_postprocess_cells": 2, "num_preprocess_blocks": 1,
	"num_preprocess_cells": 2, "num_cell_per_cond_dec": 1, "num_cell_per_cond_enc": 1,
	"res_dist": true, "use_se": true, "weight_decay_norm": 0.01, "seed": 1, "root": "/tmp", "distributed": false}`
	var args map[string]any
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Preset("tiny_mnist")
	want.BatchSize, want.Epochs, want.FastAdamax = 200, 200, false
	if cfg != want {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, want)
	}
	// evaluate.py fallbacks for old checkpoints
	cfg, _ = ConfigFromArgs(map[string]any{"dataset": "cifar10"})
	if cfg.AdaGroups || cfg.MinGroupsPerScale != 1 || cfg.NumMixtureDec != 10 || cfg.NumChannelsEnc != 32 {
		t.Errorf("fallbacks: %+v", cfg)
	}
	cfg, _ = ConfigFromArgs(map[string]any{"dataset": "cifar10", "input_size": 16.0})
	if cfg.ImageSize() != 16 {
		t.Errorf("input_size override: %d", cfg.ImageSize())
	}
	for _, bad := range []map[string]any{{"num_nf": 1.5}, {"use_se": "yes"}, {"dataset": 3.0}, {"learning_rate": []any{}}} {
		if _, err := ConfigFromArgs(bad); err == nil {
			t.Errorf("ConfigFromArgs(%v) accepted a mistyped value", bad)
		}
	}
}

func TestPresetUnknown(t *testing.T) {
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), "tiny_mnist") {
		t.Errorf("err %v", err)
	}
}

// TestPresetCountsBig checks the parameter, conv and BN counts of the large official presets
// (docs/model.md#presets). It allocates several GB, so it runs only with NVAE_BIG_TESTS=1.
func TestPresetCountsBig(t *testing.T) {
	if os.Getenv("NVAE_BIG_TESTS") == "" {
		t.Skip("set NVAE_BIG_TESTS=1 (allocates several GB)")
	}
	cases := []struct {
		preset         string
		params, sr, bn int
	}{
		{"cifar10", 130852480, 610, 364},
		{"celeba_64", 153281364, 730, 436},
		{"imagenet_32", 268509444, 570, 340},
		{"celeba_256", 330798664, 986, 460},
		{"ffhq", 330798664, 986, 460},
	}
	for _, c := range cases {
		cfg, _ := Preset(c.preset)
		m, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		if m.NumParams() != c.params || len(m.convs) != c.sr || len(m.bns) != c.bn {
			t.Errorf("%s: %d params, %d convs, %d BN; want %d, %d, %d", c.preset, m.NumParams(), len(m.convs), len(m.bns), c.params, c.sr, c.bn)
		}
	}
}
