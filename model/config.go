package model

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Config holds every hyperparameter of the official train.py that affects the model, the loss or
// training. The JSON names are the official argparse names, so a checkpoint's `args` namespace
// decodes into it directly (see ConfigFromArgs).
type Config struct {
	Dataset string `json:"dataset"`
	// InputSize is the side length given to the model; 0 derives it from Dataset (docs/model.md#data).
	InputSize int `json:"input_size,omitempty"`

	BatchSize           int     `json:"batch_size"`
	LearningRate        float64 `json:"learning_rate"`
	LearningRateMin     float64 `json:"learning_rate_min"`
	WeightDecay         float64 `json:"weight_decay"`
	WeightDecayNorm     float64 `json:"weight_decay_norm"`
	WeightDecayNormInit float64 `json:"weight_decay_norm_init"`
	WeightDecayNormAnn  bool    `json:"weight_decay_norm_anneal"`
	Epochs              int     `json:"epochs"`
	WarmupEpochs        int     `json:"warmup_epochs"`
	FastAdamax          bool    `json:"fast_adamax"`
	ArchInstance        string  `json:"arch_instance"`
	KLAnnealPortion     float64 `json:"kl_anneal_portion"`
	KLConstPortion      float64 `json:"kl_const_portion"`
	KLConstCoeff        float64 `json:"kl_const_coeff"`
	NumNF               int     `json:"num_nf"`
	NumXBits            int     `json:"num_x_bits"`
	NumLatentScales     int     `json:"num_latent_scales"`
	NumGroupsPerScale   int     `json:"num_groups_per_scale"`
	NumLatentPerGroup   int     `json:"num_latent_per_group"`
	AdaGroups           bool    `json:"ada_groups"`
	MinGroupsPerScale   int     `json:"min_groups_per_scale"`
	NumChannelsEnc      int     `json:"num_channels_enc"`
	NumChannelsDec      int     `json:"num_channels_dec"`
	NumPreprocessBlocks int     `json:"num_preprocess_blocks"`
	NumPreprocessCells  int     `json:"num_preprocess_cells"`
	NumPostprocBlocks   int     `json:"num_postprocess_blocks"`
	NumPostprocCells    int     `json:"num_postprocess_cells"`
	NumCellPerCondEnc   int     `json:"num_cell_per_cond_enc"`
	NumCellPerCondDec   int     `json:"num_cell_per_cond_dec"`
	NumMixtureDec       int     `json:"num_mixture_dec"`
	UseSE               bool    `json:"use_se"`
	ResDist             bool    `json:"res_dist"`
	ContTraining        bool    `json:"cont_training"`
	Seed                int     `json:"seed"`
}

// Datasets lists the official --dataset choices.
var Datasets = []string{"cifar10", "mnist", "omniglot", "celeba_64", "celeba_256", "imagenet_32", "ffhq",
	"lsun_bedroom_128", "stacked_mnist", "lsun_church_128", "lsun_church_64"}

// DefaultConfig returns the official train.py defaults (docs/model.md#hyperparameters).
func DefaultConfig() Config {
	return Config{
		Dataset: "mnist", BatchSize: 200, LearningRate: 1e-2, LearningRateMin: 1e-4, WeightDecay: 3e-4,
		WeightDecayNorm: 0, WeightDecayNormInit: 10, Epochs: 200, WarmupEpochs: 5, ArchInstance: "res_mbconv",
		KLAnnealPortion: 0.3, KLConstPortion: 1e-4, KLConstCoeff: 1e-4, NumNF: 0, NumXBits: 8,
		NumLatentScales: 1, NumGroupsPerScale: 10, NumLatentPerGroup: 20, MinGroupsPerScale: 1,
		NumChannelsEnc: 32, NumChannelsDec: 32, NumPreprocessBlocks: 2, NumPreprocessCells: 3,
		NumPostprocBlocks: 2, NumPostprocCells: 3, NumCellPerCondEnc: 1, NumCellPerCondDec: 1,
		NumMixtureDec: 10, Seed: 1,
	}
}

// PresetNames lists the names accepted by Preset.
func PresetNames() []string {
	n := make([]string, 0, len(presets))
	for k := range presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

var presets = map[string]func(c *Config){
	// Official README configurations (docs/model.md#presets).
	"mnist": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize = "mnist", 400, 200
		c.NumChannelsEnc, c.NumChannelsDec = 32, 32
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 2, 3, 2, 3
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 2, 10, true, 1
		c.NumNF, c.WeightDecayNorm = 0, 1e-2
	},
	"cifar10": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize = "cifar10", 400, 32
		c.NumChannelsEnc, c.NumChannelsDec = 128, 128
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale = 1, 30
		c.NumNF, c.WeightDecayNorm = 1, 1e-2
	},
	"celeba_64": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize = "celeba_64", 90, 16
		c.NumChannelsEnc, c.NumChannelsDec = 64, 64
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 3, 20, true, 1
		c.NumNF, c.WeightDecayNorm = 1, 1e-1
	},
	"imagenet_32": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize, c.WarmupEpochs = "imagenet_32", 45, 24, 1
		c.NumChannelsEnc, c.NumChannelsDec = 192, 192
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale = 1, 28
		c.NumNF, c.WeightDecayNorm, c.WeightDecayNormAnn, c.WeightDecayNormInit = 1, 1e-2, true, 1
	},
	"celeba_256": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize, c.NumXBits = "celeba_256", 300, 4, 5
		c.NumChannelsEnc, c.NumChannelsDec = 30, 30
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 5, 16, true, 4
		c.NumNF, c.WeightDecayNorm, c.WeightDecayNormAnn, c.WeightDecayNormInit = 2, 1e-2, true, 1
	},
	"ffhq": func(c *Config) {
		c.Dataset, c.Epochs, c.BatchSize, c.NumXBits, c.LearningRate = "ffhq", 200, 4, 5, 8e-3
		c.NumChannelsEnc, c.NumChannelsDec = 30, 30
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 5, 16, true, 4
		c.NumNF, c.WeightDecayNorm, c.WeightDecayNormAnn, c.WeightDecayNormInit = 2, 1e-1, true, 1
	},
	// Small CPU configurations for tests and CI: the parity fixtures' architectures.
	"tiny_mnist": func(c *Config) { // F1
		c.Dataset, c.Epochs, c.BatchSize = "mnist", 1, 8
		c.NumChannelsEnc, c.NumChannelsDec = 16, 16
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 2, 2, true, 1
		c.NumLatentPerGroup, c.NumCellPerCondEnc, c.NumCellPerCondDec = 4, 1, 1
		c.NumNF, c.WeightDecayNorm = 0, 1e-2
	},
	// The README's main job: a small Bernoulli model that trains in about 3 minutes on 2
	// cores on the embedded 4000-image Fashion-MNIST subset (F1's architecture with 8
	// latent channels per group, batch 32). It trains by its step plan (presetPlans);
	// Epochs is that plan's length rounded up, for the record in the checkpoint.
	"demo": func(c *Config) {
		c.Dataset, c.Epochs, c.WarmupEpochs, c.BatchSize = "mnist", 5, 1, 32
		c.NumChannelsEnc, c.NumChannelsDec = 16, 16
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 2, 1, 2
		c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 2, 2, true, 1
		c.NumLatentPerGroup, c.NumCellPerCondEnc, c.NumCellPerCondDec = 8, 1, 1
		c.NumNF, c.WeightDecayNorm = 0, 1e-2
	},
	"tiny_cifar10": func(c *Config) { // F2
		c.Dataset, c.InputSize, c.Epochs, c.BatchSize = "cifar10", 16, 1, 8
		c.NumChannelsEnc, c.NumChannelsDec = 16, 16
		c.NumPreprocessBlocks, c.NumPreprocessCells, c.NumPostprocBlocks, c.NumPostprocCells = 1, 1, 1, 1
		c.NumLatentScales, c.NumGroupsPerScale = 1, 2
		c.NumLatentPerGroup, c.NumCellPerCondEnc, c.NumCellPerCondDec = 4, 1, 1
		c.NumNF, c.NumMixtureDec, c.WeightDecayNorm = 1, 3, 1e-2
	},
}

// StepPlan is a preset's own step-based training schedule (train.Options.Steps and
// friends). Only presets that are not official configurations have one: the official
// presets train with the official per-epoch schedules.
type StepPlan struct {
	// Steps is the number of training steps; the LR cosine runs per step to its end.
	Steps int
	// WarmupSteps is the LR warm-up length in steps.
	WarmupSteps int
	// KLConstSteps and KLAnnealSteps are the KL warm-up: β = kl_const_coeff for
	// KLConstSteps steps, then a linear rise to 1 over KLAnnealSteps steps.
	KLConstSteps, KLAnnealSteps int
	// EvalEverySteps is the interval of the test evaluations during training (0: the
	// per-epoch rule; Steps or more: none); the run always evaluates after its last step.
	EvalEverySteps int
}

var presetPlans = map[string]StepPlan{
	// 560 steps of batch 32 (4.5 passes over the 4000 images) and one test evaluation
	// at the end: measured back to back on 2 cores, the CPU time of the former demo (375
	// steps by the official per-epoch schedules over 3 epochs, evaluated after each) and
	// 1.0–1.2× its wall time, so about 3 minutes where that one took 2.5. The former per-epoch cosine held
	// 1e-2 for two epochs and then dropped to 1e-4 in one step, so its last third learnt
	// little; here the LR warms up over 60 steps and follows a cosine per step, and β
	// reaches 1 after 180 steps (the official 30 %). Test NELBO (K = 10, 1000 images)
	// 266.8 → 260.3 nats, IW bound 260.5 → 254.7.
	// EvalEverySteps = Steps leaves out the evaluations during training.
	"demo": {Steps: 560, WarmupSteps: 60, KLConstSteps: 0, KLAnnealSteps: 180, EvalEverySteps: 560},
}

// PresetPlan returns the step-based schedule of a preset and whether it has one.
func PresetPlan(name string) (StepPlan, bool) {
	p, ok := presetPlans[name]
	return p, ok
}

// Preset returns a named configuration: the official ones (mnist, cifar10, celeba_64,
// imagenet_32, celeba_256, ffhq; README commands, docs/model.md#presets) and small CPU ones (tiny_mnist,
// tiny_cifar10: the architectures of the parity fixtures F1 and F2; demo: the README's main job).
func Preset(name string) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("model: unknown preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	c := DefaultConfig()
	// Shared by every official command.
	c.UseSE, c.ResDist, c.FastAdamax = true, true, true
	c.NumLatentPerGroup, c.NumCellPerCondEnc, c.NumCellPerCondDec, c.NumMixtureDec = 20, 2, 2, 10
	f(&c)
	return c, nil
}

// ImageSize is the side length of the model's input: InputSize when set, otherwise the official
// get_input_size (32 for mnist/omniglot/cifar10, 256 for ffhq, else the number after the last "_").
func (c Config) ImageSize() int {
	if c.InputSize > 0 {
		return c.InputSize
	}
	switch c.Dataset {
	case "mnist", "omniglot", "cifar10":
		return 32
	case "ffhq":
		return 256
	}
	if i := strings.LastIndex(c.Dataset, "_"); i >= 0 {
		if n, err := strconv.Atoi(c.Dataset[i+1:]); err == nil {
			return n
		}
	}
	return 0
}

// ImageChannels is 1 for the binary datasets (mnist, omniglot) and 3 otherwise.
func (c Config) ImageChannels() int {
	if c.Binary() {
		return 1
	}
	return 3
}

// Binary reports whether the dataset uses the Bernoulli decoder (and the 28×28 crop).
func (c Config) Binary() bool {
	return c.Dataset == "mnist" || c.Dataset == "omniglot" || c.Dataset == "stacked_mnist"
}

// CropOutput reports whether the reconstruction loss covers only the central [2:30, 2:30].
func (c Config) CropOutput() bool { return c.Binary() }

// OutChannels is the channel count of the image-conditional logits (docs/model.md#output-head).
func (c Config) OutChannels() int {
	switch {
	case c.Binary():
		return 1
	case c.NumMixtureDec == 1:
		return 6
	}
	return 10 * c.NumMixtureDec
}

// GroupsPerScale returns g_s for encoder scales s = 0 (highest resolution) .. L−1 (docs/model.md#latent-groups).
func (c Config) GroupsPerScale() []int {
	g := make([]int, c.NumLatentScales)
	n := c.NumGroupsPerScale
	for s := range g {
		g[s] = n
		if c.AdaGroups {
			n = max(c.MinGroupsPerScale, n/2)
		}
	}
	return g
}

// NumGroups is the total number of latent groups.
func (c Config) NumGroups() int {
	t := 0
	for _, g := range c.GroupsPerScale() {
		t += g
	}
	return t
}

// Vanilla reports the vanilla-VAE mode (one scale with one group).
func (c Config) Vanilla() bool { return c.NumLatentScales == 1 && c.NumGroupsPerScale == 1 }

// KLBalanceAlpha returns the KL-balancing weights α_l in decoder order (docs/model.md#kl-balancing): 4^t/n_t per
// decoder scale t, normalised by the minimum. As in the official kl_balancer_coeff, each weight
// is the float64 quotient rounded to float32 and the normalisation is a float32 division.
func (c Config) KLBalanceAlpha() []float32 {
	g := c.GroupsPerScale()
	var out []float32
	for t := range g {
		n := g[len(g)-1-t]
		a := float32(math.Ldexp(1, 2*t) / float64(n))
		for range n {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil
	}
	lo := slices.Min(out)
	for i := range out {
		out[i] /= lo
	}
	return out
}

// Validate rejects configurations the official code cannot build or run.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	known := false
	for _, d := range Datasets {
		known = known || d == c.Dataset
	}
	if !known {
		bad("unknown dataset %q", c.Dataset)
	}
	if c.Dataset == "stacked_mnist" {
		bad("dataset stacked_mnist is not runnable in the official code (input size, dims and crop fail)")
	}
	if c.ArchInstance == "res_mbconv9" {
		bad("arch_instance res_mbconv9 refers to undefined ops (mconv_e6k9g0, mconv_e3k9g0)")
	} else if _, ok := archs[c.ArchInstance]; !ok {
		bad("unknown arch_instance %q", c.ArchInstance)
	}
	pos := map[string]int{"num_channels_enc": c.NumChannelsEnc, "num_channels_dec": c.NumChannelsDec,
		"num_latent_scales": c.NumLatentScales, "num_groups_per_scale": c.NumGroupsPerScale,
		"num_latent_per_group": c.NumLatentPerGroup, "num_mixture_dec": c.NumMixtureDec}
	for _, k := range []string{"num_channels_enc", "num_channels_dec", "num_latent_scales", "num_groups_per_scale", "num_latent_per_group", "num_mixture_dec"} {
		if pos[k] < 1 {
			bad("%s must be at least 1, got %d", k, pos[k])
		}
	}
	nonneg := map[string]int{"num_preprocess_blocks": c.NumPreprocessBlocks, "num_postprocess_blocks": c.NumPostprocBlocks,
		"num_cell_per_cond_enc": c.NumCellPerCondEnc, "num_cell_per_cond_dec": c.NumCellPerCondDec, "num_nf": c.NumNF}
	for _, k := range []string{"num_preprocess_blocks", "num_postprocess_blocks", "num_cell_per_cond_enc", "num_cell_per_cond_dec", "num_nf"} {
		if nonneg[k] < 0 {
			bad("%s must not be negative, got %d", k, nonneg[k])
		}
	}
	if c.NumPreprocessBlocks > 0 && c.NumPreprocessCells < 1 {
		bad("num_preprocess_cells must be at least 1, got %d", c.NumPreprocessCells)
	}
	if c.NumPostprocBlocks > 0 && c.NumPostprocCells < 1 {
		bad("num_postprocess_cells must be at least 1, got %d", c.NumPostprocCells)
	}
	if c.NumPostprocBlocks != c.NumPreprocessBlocks {
		bad("num_postprocess_blocks (%d) must equal num_preprocess_blocks (%d): otherwise the logits do not match the input size",
			c.NumPostprocBlocks, c.NumPreprocessBlocks)
	}
	if c.AdaGroups && c.MinGroupsPerScale < 1 {
		bad("min_groups_per_scale must be at least 1 with ada_groups, got %d", c.MinGroupsPerScale)
	}
	if c.NumXBits < 1 || c.NumXBits > 8 {
		bad("num_x_bits must be in 1..8, got %d", c.NumXBits)
	}
	if c.Vanilla() && c.NumChannelsEnc != c.NumChannelsDec {
		bad("vanilla-VAE mode (one scale, one group) feeds stem_decoder (built from num_channels_enc) into the postprocessing (built from num_channels_dec): they must be equal")
	}
	s := c.ImageSize()
	if s < 1 {
		bad("cannot derive the input size from dataset %q; set input_size", c.Dataset)
	} else if c.NumLatentScales >= 1 && c.NumPreprocessBlocks >= 0 {
		div := 1 << (c.NumPreprocessBlocks + c.NumLatentScales - 1)
		if s%div != 0 {
			bad("input size %d is not divisible by 2^(num_preprocess_blocks+num_latent_scales-1) = %d", s, div)
		}
	}
	if c.CropOutput() && s != 32 && s > 0 {
		bad("dataset %s crops the output to [2:30, 2:30] and needs input size 32, got %d", c.Dataset, s)
	}
	if c.WeightDecayNormAnn && (c.WeightDecayNorm <= 0 || c.WeightDecayNormInit <= 0) {
		bad("weight_decay_norm_anneal needs weight_decay_norm > 0 and weight_decay_norm_init > 0")
	}
	if c.ArchInstance == "mbconv_den" {
		// groups=8 convolutions need a hidden width divisible by 8
		for b := 0; b < c.NumPreprocessBlocks; b++ {
			if (3*c.NumChannelsEnc<<b)%8 != 0 {
				bad("arch_instance mbconv_den needs 3·num_channels_enc·2^b divisible by 8")
				break
			}
		}
		if (3*c.NumChannelsDec)%8 != 0 {
			bad("arch_instance mbconv_den needs 3·num_channels_dec divisible by 8")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("model: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// ConfigFromArgs builds a Config from an official argparse namespace (for example a checkpoint's
// `args`, or the JSON `args` of a fixture). Missing flags take the official defaults, with the
// evaluate.py fallbacks for old checkpoints (ada_groups=False, min_groups_per_scale=1,
// num_mixture_dec=10). Unknown keys are ignored. An `input_size` key overrides the size derived
// from the dataset.
func ConfigFromArgs(args map[string]any) (Config, error) {
	c := DefaultConfig()
	c.AdaGroups, c.MinGroupsPerScale, c.NumMixtureDec = false, 1, 10
	rv := reflect.ValueOf(&c).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		v, ok := args[name]
		if !ok || v == nil {
			continue
		}
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			s, ok := v.(string)
			if !ok {
				return c, fmt.Errorf("model: arg %s: want a string, got %T", name, v)
			}
			f.SetString(s)
		case reflect.Bool:
			b, ok := v.(bool)
			if !ok {
				return c, fmt.Errorf("model: arg %s: want a bool, got %T", name, v)
			}
			f.SetBool(b)
		case reflect.Int:
			x, err := toFloat(v)
			if err != nil || x != math.Trunc(x) {
				return c, fmt.Errorf("model: arg %s: want an integer, got %v", name, v)
			}
			f.SetInt(int64(x))
		case reflect.Float64:
			x, err := toFloat(v)
			if err != nil {
				return c, fmt.Errorf("model: arg %s: %w", name, err)
			}
			f.SetFloat(x)
		}
	}
	return c, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}
