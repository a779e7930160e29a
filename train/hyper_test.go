package train

import (
	"testing"

	"github.com/nvae-go/nvae/model"
)

// TestHyperparameterRanges: every preset passes the range checks, and values
// outside them are refused by Validate.
func TestHyperparameterRanges(t *testing.T) {
	for _, name := range model.PresetNames() {
		cfg, err := model.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if errs := (Options{Config: cfg, Out: "x"}).validateHyper(); len(errs) > 0 {
			t.Errorf("preset %s: %v", name, errs)
		}
	}
	cfg, _ := model.Preset("tiny_mnist")
	for _, c := range []struct {
		name string
		set  func(*model.Config)
	}{
		{"learning_rate", func(c *model.Config) { c.LearningRate = -1 }},
		{"learning_rate", func(c *model.Config) { c.LearningRate = 0 }},
		{"learning_rate_min", func(c *model.Config) { c.LearningRateMin = -1e-5 }},
		{"kl_const_coeff", func(c *model.Config) { c.KLConstCoeff = 1.5 }},
		{"weight_decay_norm", func(c *model.Config) { c.WeightDecayNorm = -1 }},
		{"warmup_epochs", func(c *model.Config) { c.WarmupEpochs = -1 }},
	} {
		bad := cfg
		c.set(&bad)
		if err := (Options{Config: bad, Out: "x"}).Validate(); err == nil {
			t.Errorf("a bad --%s was accepted", c.name)
		}
	}
}
