// Package train runs NVAE training as the official train.py does (docs/model.md#objective and docs/model.md#training): Adamax
// with the official learning-rate warm-up and cosine schedule, KL warm-up and balancing,
// spectral and BN regularisation, periodic evaluation, atomic checkpoints that resume
// exactly, NaN/Inf protection, and a run directory a person can look at (metrics,
// TensorBoard events, curve plot, sample and reconstruction grids).
package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/comm"
	"github.com/nvae-go/nvae/model"
)

// Options configure a training run. The model and the official hyperparameters
// (batch size, learning rates, epochs, KL schedule portions, …) live in Config; the
// rest says where the data and outputs are and how long to run.
type Options struct {
	Config model.Config

	// Data names the image source for data.Open ("embedded", "mnist", "fashion_mnist",
	// "cifar10", "folder", "celeba_64"); DataDir is its directory. Config.Dataset still
	// decides the likelihood and the official preprocessing.
	Data, DataDir string

	// Out is the run directory (created if needed).
	Out string
	// Resume continues from Out/checkpoint.safetensors when it exists.
	Resume bool
	// ResumeEpochs and ResumeSteps, when positive, replace the checkpoint's number of
	// epochs (epoch schedules) or steps (step schedules) on resume, to lengthen or
	// shorten a run; everything else of the configuration comes from the checkpoint.
	ResumeEpochs, ResumeSteps int
	// Force lets a run that does not resume replace an existing checkpoint in Out
	// (without it New refuses, naming the file).
	Force bool
	// RecomputeCells recomputes each cell's forward pass during backward (gradient
	// checkpointing): less memory, about one more forward pass per step, same results.
	RecomputeCells bool
	// Precision is the arithmetic of the convolutions (ad.FP32, the default, or
	// ad.BF16, mixed precision: see ad.BF16 and model.Model.Precision). It is a
	// run-time choice, not saved with the run: a run may resume at another precision.
	Precision ad.Precision

	// Steps, when positive, fixes the number of training steps and switches the
	// schedules to steps (LR warm-up over WarmupSteps, cosine to the end); otherwise the
	// official epoch schedules over Config.Epochs apply.
	Steps int
	// WarmupSteps overrides the LR warm-up length (official: warmup_epochs × iterations
	// per epoch). The last warm-up value, lr·(W−1)/W, then holds until the cosine.
	WarmupSteps int
	// KLAnnealSteps, when positive, makes β rise linearly from kl_const_coeff to 1 over
	// this many steps after KLConstSteps constant steps (official kl_coeff formula);
	// otherwise kl_anneal_portion and kl_const_portion of the total apply.
	KLAnnealSteps, KLConstSteps int

	// MaxMinutes stops training after this much training time (0: no limit), then
	// writes the checkpoint and final pictures.
	MaxMinutes float64
	// CheckpointMinutes is the interval between periodic checkpoints (default 10).
	CheckpointMinutes float64
	// EvalEverySteps evaluates every so many steps; 0 uses the official rule (every
	// epoch when epochs ≤ 50, else every 20 epochs, and after the last).
	EvalEverySteps int
	// EvalImages caps the test images per evaluation (0: the whole test split).
	EvalImages int
	// NumIWSamples is K for the importance-weighted bound during training (official 10).
	NumIWSamples int
	// FinalIWSamples is K for the evaluation after training (official 1000; 0 skips it).
	FinalIWSamples int
	// MaxBadSteps stops the run after this many consecutive non-finite steps (default 10).
	MaxBadSteps int
	// LogEvery writes metrics every so many steps (default 10).
	LogEvery int

	// StopAfter, when positive, ends this run after so many steps as an interruption
	// would: the checkpoint is saved and a rerun continues the schedule (which still
	// runs to Steps or the epochs). It splits a long schedule over several jobs.
	StopAfter int

	// Comm, when it has more than one rank, trains data-parallel over its ranks (see
	// dp.go): Config.BatchSize is per rank, and only rank 0 writes files and logs. nil
	// trains in this process alone.
	Comm comm.Comm

	// Log receives progress and messages (default os.Stdout).
	Log io.Writer
	// Progress receives the progress of evaluations, with an ETA (default: Log; the
	// command line gives stderr).
	Progress io.Writer
}

// ApplyPlan sets the step-based schedule (Steps, WarmupSteps, the KL warm-up in steps,
// EvalEverySteps) from a preset's plan; fields that are already set keep their value.
func (o *Options) ApplyPlan(p model.StepPlan) {
	set := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	set(&o.Steps, p.Steps)
	set(&o.WarmupSteps, p.WarmupSteps)
	set(&o.KLAnnealSteps, p.KLAnnealSteps)
	set(&o.KLConstSteps, p.KLConstSteps)
	set(&o.EvalEverySteps, p.EvalEverySteps)
}

// withDefaults fills the zero options with defaults.
func (o Options) withDefaults() Options {
	if o.CheckpointMinutes == 0 {
		o.CheckpointMinutes = 10
	}
	if o.NumIWSamples == 0 {
		o.NumIWSamples = 10
	}
	if o.MaxBadSteps == 0 {
		o.MaxBadSteps = 10
	}
	if o.LogEvery == 0 {
		o.LogEvery = 10
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	if o.Comm == nil {
		o.Comm = comm.Single()
	}
	if o.Progress == nil {
		o.Progress = o.Log
	}
	if o.Comm.Rank() != 0 { // rank 0 speaks for the job
		o.Log, o.Progress = io.Discard, io.Discard
	}
	if o.Data == "" {
		o.Data = o.Config.Dataset
	}
	return o
}

// Validate reports impossible options.
func (o Options) Validate() error {
	var errs []error
	if o.Out == "" {
		errs = append(errs, errors.New("an output directory (--out) is required"))
	}
	if err := o.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"steps", float64(o.Steps)}, {"warmup_steps", float64(o.WarmupSteps)}, {"kl_anneal_steps", float64(o.KLAnnealSteps)},
		{"kl_const_steps", float64(o.KLConstSteps)}, {"max_minutes", o.MaxMinutes}, {"checkpoint_minutes", o.CheckpointMinutes},
		{"eval_every_steps", float64(o.EvalEverySteps)}, {"eval_images", float64(o.EvalImages)},
		{"num_iw_samples", float64(o.NumIWSamples)}, {"final_iw_samples", float64(o.FinalIWSamples)},
		{"stop_after", float64(o.StopAfter)}} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative (got %v)", c.name, c.v))
		}
	}
	if o.Config.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("--batch_size must be at least 1 (got %d)", o.Config.BatchSize))
	}
	if o.Precision != ad.FP32 && o.Precision != ad.BF16 {
		errs = append(errs, fmt.Errorf("precision %v: want fp32 or bf16", o.Precision))
	}
	errs = append(errs, o.validateHyper()...)
	return errors.Join(errs...)
}

// validateHyper checks the training hyperparameters of the configuration against
// their valid ranges.
func (o Options) validateHyper() []error {
	c := o.Config
	var errs []error
	inRange := func(name string, v, lo, hi float64, loOpen bool, want string) {
		if math.IsNaN(v) || v > hi || v < lo || (loOpen && v == lo) {
			errs = append(errs, fmt.Errorf("--%s must be %s (got %v)", name, want, v))
		}
	}
	inRange("learning_rate", c.LearningRate, 0, 1, true, "in (0, 1]")
	inRange("learning_rate_min", c.LearningRateMin, 0, c.LearningRate, false, fmt.Sprintf("in [0, --learning_rate %v]", c.LearningRate))
	inRange("weight_decay", c.WeightDecay, 0, math.Inf(1), false, "≥ 0")
	inRange("weight_decay_norm", c.WeightDecayNorm, 0, math.Inf(1), false, "≥ 0")
	inRange("weight_decay_norm_init", c.WeightDecayNormInit, 0, math.Inf(1), false, "≥ 0")
	inRange("kl_anneal_portion", c.KLAnnealPortion, 0, 1, false, "in [0, 1]")
	inRange("kl_const_portion", c.KLConstPortion, 0, 1, false, "in [0, 1]")
	inRange("kl_const_coeff", c.KLConstCoeff, 0, 1, false, "in [0, 1]")
	if c.WarmupEpochs < 0 {
		errs = append(errs, fmt.Errorf("--warmup_epochs must not be negative (got %d)", c.WarmupEpochs))
	}
	if o.Steps == 0 && c.Epochs < 1 {
		errs = append(errs, fmt.Errorf("--epochs must be at least 1 (got %d), or give --steps", c.Epochs))
	}
	return errs
}
