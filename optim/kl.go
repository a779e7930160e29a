package optim

import (
	"fmt"
	"math"
)

// Official KL warm-up settings (train.py defaults, docs/model.md#hyperparameters and docs/model.md#kl-warm-up).
const (
	KLAnnealPortion = 0.3
	KLConstPortion  = 0.0001
	KLConstCoeff    = 0.0001
)

// KLCoeff is train.py's kl_coeff: β(i) = max(min((i − constSteps)/annealSteps, 1), minCoeff),
// evaluated in float64 in that order (docs/model.md#kl-warm-up). β stays at minCoeff until constSteps
// (and for as long as the ramp is below it), then rises linearly and reaches 1 at
// constSteps + annealSteps. An annealSteps ≤ 0 (a division by zero in Python) is taken
// as an immediate step to 1 at constSteps.
func KLCoeff(step int, annealSteps, constSteps, minCoeff float64) float64 {
	x := float64(step) - constSteps
	var r float64
	switch {
	case annealSteps > 0:
		r = x / annealSteps
	case x >= 0:
		r = 1
	default:
		r = math.Inf(-1)
	}
	return math.Max(math.Min(r, 1), minCoeff)
}

// KLSchedule is the KL warm-up coefficient β as a function of the global step.
type KLSchedule struct {
	// AnnealSteps is the length of the linear rise (a in docs/model.md#kl-warm-up).
	AnnealSteps float64
	// ConstSteps is the number of steps at MinCoeff before the rise (c).
	ConstSteps float64
	// MinCoeff is the floor of β (m).
	MinCoeff float64
}

// KLScheduleFromPortions returns the official schedule for totalSteps iterations in
// all: AnnealSteps = annealPortion·T and ConstSteps = constPortion·T, both kept as the
// float64 products train.py passes on (not rounded to whole steps).
func KLScheduleFromPortions(annealPortion, constPortion, constCoeff float64, totalSteps int) KLSchedule {
	t := float64(totalSteps)
	return KLSchedule{AnnealSteps: annealPortion * t, ConstSteps: constPortion * t, MinCoeff: constCoeff}
}

// KLStepSchedule returns a schedule in steps for short runs: β = minCoeff for the first
// constSteps steps, then a linear rise (floored at minCoeff) that reaches 1 after
// annealSteps more steps. For example KLStepSchedule(M, N, 1e-4) rises from 1e-4 to 1
// over N steps after M constant steps.
func KLStepSchedule(constSteps, annealSteps int, minCoeff float64) KLSchedule {
	return KLSchedule{AnnealSteps: float64(annealSteps), ConstSteps: float64(constSteps), MinCoeff: minCoeff}
}

// Beta returns β at global step step (0-based).
func (k KLSchedule) Beta(step int) float64 {
	return KLCoeff(step, k.AnnealSteps, k.ConstSteps, k.MinCoeff)
}

// RegCoeff gives λ, the coefficient of the spectral and BN regularizers (docs/model.md#regularisation-coefficient).
// Without Anneal, λ = Lambda. With Anneal, λ(β) = exp((1−β)·ln(LambdaInit) + β·ln(Lambda)),
// a geometric interpolation from LambdaInit to Lambda driven by the KL warm-up β.
type RegCoeff struct {
	// Lambda is --weight_decay_norm (the final value when annealed).
	Lambda float64
	// LambdaInit is --weight_decay_norm_init, used only with Anneal.
	LambdaInit float64
	// Anneal is --weight_decay_norm_anneal.
	Anneal bool
}

// Validate reports settings that train.py rejects (annealing needs both values > 0).
func (r RegCoeff) Validate() error {
	if r.Anneal && !(r.Lambda > 0 && r.LambdaInit > 0) {
		return fmt.Errorf("optim: annealed regularization needs positive init and final coefficients, got %v and %v",
			r.LambdaInit, r.Lambda)
	}
	if !r.Anneal && (r.Lambda < 0 || math.IsNaN(r.Lambda)) {
		return fmt.Errorf("optim: regularization coefficient %v is negative", r.Lambda)
	}
	return nil
}

// At returns λ for the KL coefficient beta. With Anneal and a non-positive value (see
// Validate) the result is NaN.
func (r RegCoeff) At(beta float64) float64 {
	if !r.Anneal {
		return r.Lambda
	}
	// Explicit conversions keep the two products from being fused, so the result does
	// not depend on the architecture.
	return math.Exp(float64((1-beta)*math.Log(r.LambdaInit)) + float64(beta*math.Log(r.Lambda)))
}
