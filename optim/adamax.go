package optim

import (
	"fmt"
	"math"

	"github.com/nvae-go/nvae/backend/cpu"
)

// Official Adamax hyperparameters (docs/model.md#adamax, train.py).
const (
	AdamaxBeta1       = 0.9
	AdamaxBeta2       = 0.999
	AdamaxEps         = 1e-3
	AdamaxWeightDecay = 3e-4
)

// adamaxGrain is the smallest number of elements one worker handles in a step.
const adamaxGrain = 1 << 15

// Adamax is the optimizer of the official training (torch.optim.Adamax, and the
// numerically identical --fast_adamax), over a fixed list of flat float32 parameters.
//
// One step k (1-based, counted only for steps actually taken) does, per element and in
// float32 with torch's operation order:
//
//	g ← fma(wd, p, g)                 grad.add(param, alpha=wd)   (only if wd ≠ 0)
//	m ← fma(1−β₁, g, m·β₁)            exp_avg.mul_(β₁).add_(g, alpha=1−β₁)
//	u ← max(u·β₂, |g| + ε)            amax(cat[exp_inf.mul_(β₂), |g|.add_(ε)])
//	p ← p + (v·m)/u,  v = float32(−lr/(1−β₁^k))   param.addcdiv_(m, u, value=−clr)
//
// where β₁, β₂, ε, wd and 1−β₁ are rounded to float32 as torch does when it turns a
// Python scalar into the tensor dtype, fma is one rounding (torch's vectorized CPU add
// kernel uses a fused multiply-add), every other operation rounds to float32, and the
// bias-corrected step size clr is computed in float64. A NaN in u·β₂ or |g|+ε propagates
// through the max, as torch.amax does.
//
// Weight decay is coupled (added to the gradient) and applies to every parameter.
// The exported hyperparameters may be changed before the first Update; the state is
// one contiguous buffer for m and one for u, and the step runs as a single parallel pass
// over all parameters with no allocation of its own.
type Adamax struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step is the number of updates taken so far (torch's state['step']).
	Step int64

	sizes []int
	off   []int // off[i] is the start of parameter i in m and u; off[len] = total
	m, u  []float32

	// Per-step arguments read by the parallel kernel (set by Update, cleared after).
	params, grads               [][]float32
	b1, a1, b2, eps, wd, negClr float32
	kernel                      func(lo, hi int)
}

// NewAdamax returns an Adamax optimizer for parameters of the given element counts,
// with the official β₁ = 0.9, β₂ = 0.999, ε = 1e-3 and the given weight decay
// (the official default is AdamaxWeightDecay = 3e-4). Its moments start at zero.
func NewAdamax(sizes []int, weightDecay float64) (*Adamax, error) {
	if weightDecay < 0 || math.IsNaN(weightDecay) {
		return nil, fmt.Errorf("optim: adamax weight decay %v is negative", weightDecay)
	}
	off := make([]int, len(sizes)+1)
	for i, n := range sizes {
		if n < 0 {
			return nil, fmt.Errorf("optim: adamax parameter %d has negative size %d", i, n)
		}
		off[i+1] = off[i] + n
	}
	o := &Adamax{
		Beta1:       AdamaxBeta1,
		Beta2:       AdamaxBeta2,
		Eps:         AdamaxEps,
		WeightDecay: weightDecay,
		sizes:       append([]int(nil), sizes...),
		off:         off,
		m:           make([]float32, off[len(sizes)]),
		u:           make([]float32, off[len(sizes)]),
	}
	o.kernel = o.run
	return o, nil
}

// Sizes returns the element counts of the parameters, in order. The slice must not be
// modified.
func (o *Adamax) Sizes() []int { return o.sizes }

// NumElements returns the total number of parameter elements.
func (o *Adamax) NumElements() int { return o.off[len(o.sizes)] }

// BiasCorrectedLR returns clr = lr/(1−β₁^k) for step k (1-based), computed in float64
// as torch does.
func (o *Adamax) BiasCorrectedLR(lr float64, k int64) float64 {
	return lr / (1 - math.Pow(o.Beta1, float64(k)))
}

// Update takes one optimizer step with learning rate lr: it increments Step and
// updates params in place from grads. params[i] and grads[i] must have Sizes()[i]
// elements; a nil grads[i] means the parameter has no gradient this step and is left
// untouched, moments included (torch skips parameters whose grad is None). The bias
// correction always uses the shared Step, as --fast_adamax does with the step count of
// its first parameter. Mismatched lengths are a programming error and panic. Update must
// not run concurrently with itself or with State/SetState.
func (o *Adamax) Update(params, grads [][]float32, lr float64) {
	if len(params) != len(o.sizes) || len(grads) != len(o.sizes) {
		panic(fmt.Sprintf("optim: Adamax.Update got %d params and %d grads, want %d",
			len(params), len(grads), len(o.sizes)))
	}
	for i, n := range o.sizes {
		if len(params[i]) != n || (grads[i] != nil && len(grads[i]) != n) {
			panic(fmt.Sprintf("optim: Adamax.Update parameter %d has %d elements and gradient %d, want %d",
				i, len(params[i]), len(grads[i]), n))
		}
	}
	o.Step++
	o.b1 = float32(o.Beta1)
	o.a1 = float32(1 - o.Beta1)
	o.b2 = float32(o.Beta2)
	o.eps = float32(o.Eps)
	o.wd = float32(o.WeightDecay)
	o.negClr = float32(-o.BiasCorrectedLR(lr, o.Step))
	o.params, o.grads = params, grads
	cpu.Parallel(o.NumElements(), adamaxGrain, o.kernel)
	o.params, o.grads = nil, nil
}

// run updates the flat element range [lo, hi), which may span several parameters.
func (o *Adamax) run(lo, hi int) {
	// Find the parameter j holding element lo: the last j with off[j] <= lo
	// (this skips empty parameters, which share their offset with the next one).
	a, b := 0, len(o.sizes)
	for b-a > 1 {
		mid := int(uint(a+b) >> 1)
		if o.off[mid] <= lo {
			a = mid
		} else {
			b = mid
		}
	}
	for j := a; lo < hi; j++ {
		end := min(o.off[j+1], hi)
		if g := o.grads[j]; g != nil && end > lo {
			base := o.off[j]
			o.update(o.params[j][lo-base:end-base], g[lo-base:end-base], o.m[lo:end], o.u[lo:end])
		}
		lo = max(lo, end)
	}
}

// update applies one Adamax step to matching slices of parameters, gradients and state.
func (o *Adamax) update(p, g, m, u []float32) {
	for i := 0; i < len(p); {
		i += adamaxFast(p[i:], g[i:], m[i:], u[i:], o.b1, o.b2, o.eps, o.negClr, float64(o.wd), float64(o.a1))
		if i < len(p) {
			o.updateExact(p[i:i+1], g[i:i+1], m[i:i+1], u[i:i+1])
			i++
		}
	}
}

// adamaxFast runs the step over the elements in order and returns how many it updated.
// It stops, before writing anything for it, at the first element whose fused
// multiply-adds need the exact rounding path (about one in 10⁸, see needsSlow); the
// caller then updates that element with updateExact and resumes. The fused
// multiply-adds are those of fma32, written out so that this loop makes no call. The
// float32 operands are converted right where they are read from memory, which keeps the
// conversions free of false dependencies on the previous iteration.
func adamaxFast(p, g, m, u []float32, b1, b2, eps, v float32, wd, a1 float64) int {
	g = g[:len(p)]
	m = m[:len(p)]
	u = u[:len(p)]
	for i := range p {
		// grad.add(param, alpha=wd)
		var s1 float64
		if wd != 0 {
			s1 = wd*float64(p[i]) + float64(g[i])
		} else {
			s1 = float64(g[i])
		}
		gi := float32(s1) // exact when wd == 0
		// exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
		s2 := a1*float64(gi) + float64(float32(m[i]*b1))
		if needsSlow(s1) || needsSlow(s2) {
			return i
		}
		mi := float32(s2)
		// amax(exp_inf.mul_(beta2), grad.abs().add_(eps)); the builtin max propagates
		// NaN like torch.amax.
		ui := max(float32(u[i]*b2), float32(abs32(gi)+eps))
		m[i] = mi
		u[i] = ui
		// param.addcdiv_(exp_avg, exp_inf, value=-clr)
		p[i] += float32(float32(v*mi) / ui)
	}
	return len(p)
}

// updateExact is the plain transcription of the step with fma32; update uses it for
// the rare elements where the fast rounding check fails.
func (o *Adamax) updateExact(p, g, m, u []float32) {
	for i := range p {
		gi := g[i]
		if o.wd != 0 {
			gi = fma32(o.wd, p[i], gi)
		}
		mi := fma32(o.a1, gi, float32(m[i]*o.b1))
		ui := max(float32(u[i]*o.b2), float32(abs32(gi)+o.eps))
		m[i] = mi
		u[i] = ui
		p[i] += float32(float32(o.negClr*mi) / ui)
	}
}

// AdamaxState is the optimizer state needed to resume training: torch's per-parameter
// exp_avg (m) and exp_inf (u), and the step count.
type AdamaxState struct {
	Step   int64
	ExpAvg [][]float32
	ExpInf [][]float32
}

// State returns the optimizer state. ExpAvg[i] and ExpInf[i] are views of the
// optimizer's own buffers (no copy): they stay valid and change with each Update.
func (o *Adamax) State() AdamaxState {
	s := AdamaxState{
		Step:   o.Step,
		ExpAvg: make([][]float32, len(o.sizes)),
		ExpInf: make([][]float32, len(o.sizes)),
	}
	for i := range o.sizes {
		s.ExpAvg[i] = o.m[o.off[i]:o.off[i+1]:o.off[i+1]]
		s.ExpInf[i] = o.u[o.off[i]:o.off[i+1]:o.off[i+1]]
	}
	return s
}

// SetState copies a saved state into the optimizer. The number and sizes of the
// tensors must match the optimizer's parameters; on error the optimizer is unchanged.
func (o *Adamax) SetState(s AdamaxState) error {
	if s.Step < 0 {
		return fmt.Errorf("optim: adamax state has negative step %d", s.Step)
	}
	if len(s.ExpAvg) != len(o.sizes) || len(s.ExpInf) != len(o.sizes) {
		return fmt.Errorf("optim: adamax state has %d exp_avg and %d exp_inf tensors, want %d",
			len(s.ExpAvg), len(s.ExpInf), len(o.sizes))
	}
	for i, n := range o.sizes {
		if len(s.ExpAvg[i]) != n || len(s.ExpInf[i]) != n {
			return fmt.Errorf("optim: adamax state tensor %d has %d exp_avg and %d exp_inf elements, want %d",
				i, len(s.ExpAvg[i]), len(s.ExpInf[i]), n)
		}
	}
	for i := range o.sizes {
		copy(o.m[o.off[i]:o.off[i+1]], s.ExpAvg[i])
		copy(o.u[o.off[i]:o.off[i+1]], s.ExpInf[i])
	}
	o.Step = s.Step
	return nil
}

// Reset zeroes the moments and the step count.
func (o *Adamax) Reset() {
	clear(o.m)
	clear(o.u)
	o.Step = 0
}

// abs32 clears the sign bit of x.
func abs32(x float32) float32 {
	return math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
}
