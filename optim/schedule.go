package optim

import (
	"fmt"
	"math"
)

// LRScheduler gives the learning rate of the optimizer step taken at global step
// globalStep (0-based, counting every iteration) during epoch epoch (0-based).
type LRScheduler interface {
	LR(globalStep, epoch int) float64
}

// EpochSchedule is the official learning-rate schedule of train.py (docs/model.md#learning-rate-schedule):
//
//   - warm-up: for globalStep < W, lr = LRMax·globalStep/W (0 at step 0), where
//     W = WarmupSteps if it is positive, else ItersPerEpoch·WarmupEpochs;
//   - hold: afterwards the last warm-up value LRMax·(W−1)/W stays in effect (LRMax when
//     W = 0) through epoch WarmupEpochs;
//   - cosine: from the start of each epoch e > WarmupEpochs,
//     lr = LRMin + (hold − LRMin)·(1 + cos(π·(e − WarmupEpochs)/Tmax))/2 with
//     Tmax = Epochs − WarmupEpochs − 1, so that the final epoch runs at LRMin exactly.
//
// The cosine is the closed form of torch's CosineAnnealingLR recursion started from the
// held value (the spec checked they agree). Epochs past the last one stay at LRMin
// (torch would climb again); with Tmax ≤ 0 the hold value is kept. If a WarmupSteps
// longer than the warm-up epochs is given, the warm-up overwrites the cosine while it
// lasts, as in train.py, and the cosine then continues from the hold value.
type EpochSchedule struct {
	LRMax, LRMin  float64
	Epochs        int
	WarmupEpochs  int
	ItersPerEpoch int
	// WarmupSteps, if positive, replaces ItersPerEpoch·WarmupEpochs as W.
	WarmupSteps int
}

// Validate reports a schedule that cannot be evaluated meaningfully.
func (s EpochSchedule) Validate() error {
	switch {
	case !(s.LRMax >= 0) || !(s.LRMin >= 0) || math.IsInf(s.LRMax, 0) || math.IsInf(s.LRMin, 0):
		return fmt.Errorf("optim: learning rates must be finite and non-negative, got max %v min %v", s.LRMax, s.LRMin)
	case s.Epochs < 1:
		return fmt.Errorf("optim: schedule needs at least one epoch, got %d", s.Epochs)
	case s.WarmupEpochs < 0 || s.ItersPerEpoch < 0 || s.WarmupSteps < 0:
		return fmt.Errorf("optim: negative warm-up (%d epochs, %d steps) or iterations per epoch (%d)",
			s.WarmupEpochs, s.WarmupSteps, s.ItersPerEpoch)
	}
	return nil
}

// Warmup returns W, the number of warm-up steps.
func (s EpochSchedule) Warmup() int {
	if s.WarmupSteps > 0 {
		return s.WarmupSteps
	}
	return s.ItersPerEpoch * s.WarmupEpochs
}

// LR implements LRScheduler.
func (s EpochSchedule) LR(globalStep, epoch int) float64 {
	w := s.Warmup()
	if globalStep < w {
		return warmupLR(s.LRMax, globalStep, w)
	}
	hold := holdLR(s.LRMax, w)
	if epoch <= s.WarmupEpochs {
		return hold
	}
	return cosineLR(hold, s.LRMin, epoch-s.WarmupEpochs, s.Epochs-s.WarmupEpochs-1)
}

// StepSchedule is the learning-rate schedule for short runs, counted in steps:
//
//   - warm-up: for step < WarmupSteps, lr = LRMax·step/WarmupSteps (0 at step 0);
//   - then the cosine runs per step from the hold value h = LRMax·(W−1)/W (LRMax when
//     WarmupSteps = 0) down to LRMin:
//     lr = LRMin + (h − LRMin)·(1 + cos(π·(step − W)/(TotalSteps − 1 − W)))/2,
//     so step W runs at h and the last step TotalSteps−1 at LRMin exactly.
//
// With TotalSteps ≤ WarmupSteps+1 (in particular TotalSteps = 0) there is no cosine and
// the hold value stays in effect: for example WarmupSteps = 20, LRMax = 1e-2 warms up
// to 9.5e-3 and holds it. Steps past TotalSteps−1 stay at LRMin.
type StepSchedule struct {
	LRMax, LRMin float64
	WarmupSteps  int
	TotalSteps   int
}

// Validate reports a schedule that cannot be evaluated meaningfully.
func (s StepSchedule) Validate() error {
	switch {
	case !(s.LRMax >= 0) || !(s.LRMin >= 0) || math.IsInf(s.LRMax, 0) || math.IsInf(s.LRMin, 0):
		return fmt.Errorf("optim: learning rates must be finite and non-negative, got max %v min %v", s.LRMax, s.LRMin)
	case s.WarmupSteps < 0 || s.TotalSteps < 0:
		return fmt.Errorf("optim: negative warm-up steps %d or total steps %d", s.WarmupSteps, s.TotalSteps)
	}
	return nil
}

// LR implements LRScheduler; the epoch is ignored.
func (s StepSchedule) LR(globalStep, _ int) float64 {
	w := s.WarmupSteps
	if globalStep < w {
		return warmupLR(s.LRMax, globalStep, w)
	}
	return cosineLR(holdLR(s.LRMax, w), s.LRMin, globalStep-w, s.TotalSteps-1-w)
}

// warmupLR is train.py's lr_max·step/W, evaluated in that order.
func warmupLR(lrMax float64, step, w int) float64 {
	return lrMax * float64(step) / float64(w)
}

// holdLR is the last warm-up value, which stays in effect after the warm-up.
func holdLR(lrMax float64, w int) float64 {
	if w <= 0 {
		return lrMax
	}
	return warmupLR(lrMax, w-1, w)
}

// cosineLR is CosineAnnealingLR's closed form at position k of tMax, clamped to
// [0, tMax]; with tMax ≤ 0 it returns base.
func cosineLR(base, lrMin float64, k, tMax int) float64 {
	if tMax <= 0 || k <= 0 {
		return base
	}
	if k >= tMax {
		return lrMin
	}
	return lrMin + (base-lrMin)*(1+math.Cos(math.Pi*float64(k)/float64(tMax)))/2
}

// ItersPerEpoch returns the number of iterations per epoch of one process (docs/model.md#iterations-per-epoch):
// the distributed sampler gives each of world processes ceil(nTrain/world) examples,
// and the loader drops the last incomplete batch, so floor(ceil(nTrain/world)/batch).
// It returns 0 for non-positive arguments.
func ItersPerEpoch(nTrain, world, batch int) int {
	if nTrain <= 0 || world <= 0 || batch <= 0 {
		return 0
	}
	perProc := (nTrain + world - 1) / world
	return perProc / batch
}
