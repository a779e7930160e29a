package main

import (
	"flag"
	"io"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/train"
)

// TestApplyPresetPlan checks when the demo's step plan reaches the training options:
// by default; not at all when the command line gives a schedule of its own; and with
// only the interval replaced by --eval_every_steps. Presets without a plan keep the
// official epoch schedules.
func TestApplyPresetPlan(t *testing.T) {
	demo, ok := model.PresetPlan("demo")
	if !ok {
		t.Fatal("the demo preset has no step plan")
	}
	if _, ok := model.PresetPlan("mnist"); ok {
		t.Fatal("the official mnist preset has a step plan")
	}
	withEval := demo
	withEval.EvalEverySteps = 7
	tests := []struct {
		name   string
		preset string
		args   []string
		want   model.StepPlan
	}{
		{"demo default", "demo", nil, demo},
		{"demo with eval interval", "demo", []string{"--eval_every_steps", "7"}, withEval},
		{"demo with steps", "demo", []string{"--steps", "50"}, model.StepPlan{Steps: 50}},
		{"demo with epochs", "demo", []string{"--epochs", "2"}, model.StepPlan{}},
		{"demo with warmup_epochs", "demo", []string{"--warmup_epochs", "0"}, model.StepPlan{}},
		{"demo with KL steps", "demo", []string{"--kl_anneal_steps", "9"}, model.StepPlan{KLAnnealSteps: 9}},
		{"official preset", "mnist", nil, model.StepPlan{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("train", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var o train.Options
			fs.IntVar(&o.Steps, "steps", 0, "")
			fs.IntVar(&o.WarmupSteps, "warmup_steps", 0, "")
			fs.IntVar(&o.KLAnnealSteps, "kl_anneal_steps", 0, "")
			fs.IntVar(&o.KLConstSteps, "kl_const_steps", 0, "")
			fs.IntVar(&o.EvalEverySteps, "eval_every_steps", 0, "")
			fs.Int("epochs", 0, "")
			fs.Int("warmup_epochs", 0, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			applyPresetPlan(fs, tc.preset, &o)
			got := model.StepPlan{Steps: o.Steps, WarmupSteps: o.WarmupSteps, KLConstSteps: o.KLConstSteps,
				KLAnnealSteps: o.KLAnnealSteps, EvalEverySteps: o.EvalEverySteps}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
