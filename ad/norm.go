package ad

import (
	"fmt"

	"github.com/nvae-go/nvae/backend/cpu"
)

// StatReducer sums per-channel batch-normalisation statistics over the processes of a
// data-parallel run (synchronized batch normalisation). AllReduceSumFloat64 replaces every
// element of buf by its sum over all processes; every process calls it with a buffer
// of the same length at the same point of the step. A nil StatReducer means local
// statistics. A comm.Comm satisfies it.
//
// A training-mode batch norm with a reducer calls it twice in the forward pass (the
// count-weighted means with the row count, then the spread around the common mean:
// C+1 and C values) and once in the backward pass (the two per-channel gradient sums
// Σdz and Σdz·x̂, 2C values). The gradients of γ and β stay local (a data-parallel trainer averages
// them with the other parameter gradients).
type StatReducer interface {
	AllReduceSumFloat64(buf []float64) error
}

// BatchNormOpts configure a batch normalisation.
type BatchNormOpts struct {
	Eps float32
	// Swish applies Swish to the normalised output (the fused "BN+Swish").
	Swish bool
	// Reducer, when not nil, makes the batch statistics and their gradient sums span
	// every process (see StatReducer). Only training mode uses it.
	Reducer StatReducer
}

// BatchStats are the statistics a training-mode batch norm normalised with.
type BatchStats struct {
	// Mean and Var are per channel (biased variance); they belong to the tape.
	Mean, Var []float32
	// Count is the number of rows (N·H·W) they cover, over all processes when reduced.
	Count int
}

// bnParams checks the shapes of a batch norm and returns its kernel parameters.
func bnParams(name string, x, gamma, beta *Var, o BatchNormOpts) cpu.BNParams {
	xs := x.Shape()
	c := xs[len(xs)-1]
	if gamma.Value.Len() != c || beta.Value.Len() != c {
		panic(fmt.Sprintf("ad.%s: input %v with %d-channel parameters", name, xs, gamma.Value.Len()))
	}
	return cpu.BNParams{M: x.Value.Len() / c, C: c, Eps: o.Eps, Swish: o.Swish}
}

// BatchNormTrain normalises x over every dimension but the last (channels) with its
// batch statistics (biased variance; over all processes when o.Reducer is set),
// scales by gamma, shifts by beta and applies Swish when o.Swish is set. It returns
// the output and the statistics used; keeping running statistics is the caller's
// business (nn.BN). A reducer error is recorded on the tape (see Tape.Err) and the
// local statistics are used.
func (tp *Tape) BatchNormTrain(x, gamma, beta *Var, o BatchNormOpts) (*Var, BatchStats) {
	p := bnParams("BatchNormTrain", x, gamma, beta, o)
	c := p.C
	stats := tp.alloc(2, c)
	mean, variance := stats.Data()[:c], stats.Data()[c:]
	cpu.BNStats(p, x.Data(), mean, variance)
	st := BatchStats{Mean: mean, Var: variance, Count: p.M}
	if o.Reducer != nil {
		if err := reduceStats(o.Reducer, &st); err != nil {
			tp.fail(fmt.Errorf("ad.BatchNormTrain: reducing the batch statistics: %w", err))
			st.Count = p.M
		}
	}
	back := p
	if o.Reducer != nil {
		back.SumGrads = func(sumDz, sumDzXhat []float64) int {
			buf := make([]float64, 2*c)
			copy(buf, sumDz)
			copy(buf[c:], sumDzXhat)
			if err := o.Reducer.AllReduceSumFloat64(buf); err != nil {
				tp.fail(fmt.Errorf("ad.BatchNormTrain: reducing the gradient sums: %w", err))
				return p.M
			}
			copy(sumDz, buf[:c])
			copy(sumDzXhat, buf[c:])
			return st.Count
		}
	}
	return tp.batchNorm(x, gamma, beta, p, back, true, mean, variance), st
}

// BatchNormEval is BatchNormTrain with given statistics (running statistics), which
// are constants for the gradient. They are copied when the output needs a gradient,
// so the caller may change them afterwards.
func (tp *Tape) BatchNormEval(x, gamma, beta *Var, mean, variance []float32, o BatchNormOpts) *Var {
	p := bnParams("BatchNormEval", x, gamma, beta, o)
	if len(mean) != p.C || len(variance) != p.C {
		panic(fmt.Sprintf("ad.BatchNormEval: input %v with %d/%d-channel statistics", x.Shape(), len(mean), len(variance)))
	}
	if tp.records(x, gamma, beta) {
		// keep the statistics used, since the running buffers may change later
		stats := tp.alloc(2, p.C)
		copy(stats.Data()[:p.C], mean)
		copy(stats.Data()[p.C:], variance)
		mean, variance = stats.Data()[:p.C], stats.Data()[p.C:]
	}
	return tp.batchNorm(x, gamma, beta, p, p, false, mean, variance)
}

// records reports whether a result of the inputs needs a gradient on tp.
func (tp *Tape) records(inputs ...*Var) bool {
	if tp.noGrad {
		return false
	}
	for _, in := range inputs {
		if in != nil && in.needGrad {
			return true
		}
	}
	return false
}

// batchNorm is the normalisation with fixed statistics and its backward (which
// differentiates through the statistics when train is set); back are the parameters
// of the backward kernel (with the reduction hook of a synchronized batch norm).
func (tp *Tape) batchNorm(x, gamma, beta *Var, p, back cpu.BNParams, train bool, mean, variance []float32) *Var {
	out := tp.newVar(x.Shape(), x, gamma, beta)
	cpu.BNForward(p, x.Data(), mean, variance, gamma.Data(), beta.Data(), out.Data())
	// the output can be recomputed from x and the statistics (see Discard)
	out.refill = func(dst []float32) { cpu.BNForward(p, x.Data(), mean, variance, gamma.Data(), beta.Data(), dst) }
	out.deps = []*Var{x}
	tp.record(out, func() {
		var gx, gg, gb []float32
		set := false
		if x.needGrad {
			gx, set = tp.gradSet(x)
		}
		if gamma.needGrad {
			gg = tp.grad(gamma)
		}
		if beta.needGrad {
			gb = tp.grad(beta)
		}
		if set {
			cpu.BNBackwardSet(back, train, x.Data(), mean, variance, gamma.Data(), beta.Data(), out.Grad.Data(), gx, gg, gb)
		} else {
			cpu.BNBackward(back, train, x.Data(), mean, variance, gamma.Data(), beta.Data(), out.Grad.Data(), gx, gg, gb)
		}
	})
	return out
}

// reduceStats replaces the local statistics in st by those of the rows of every
// process: the common mean from the count-weighted means, then the biased variance as
// the count-weighted sum of each process's variance and squared distance of its mean
// to the common one (the parallel-variance formula, which needs no common shift).
func reduceStats(r StatReducer, st *BatchStats) error {
	c := len(st.Mean)
	n := float64(st.Count)
	buf := make([]float64, c+1)
	for j := 0; j < c; j++ {
		if st.Count > 0 {
			buf[j] = n * float64(st.Mean[j])
		}
	}
	buf[c] = n
	if err := r.AllReduceSumFloat64(buf); err != nil {
		return err
	}
	total := buf[c]
	if total <= 0 {
		return fmt.Errorf("the processes hold %v rows in all", total)
	}
	mu := make([]float64, c)
	for j := range mu {
		mu[j] = buf[j] / total
	}
	sq := buf[:c]
	for j := 0; j < c; j++ {
		sq[j] = 0
		if st.Count > 0 {
			d := float64(st.Mean[j]) - mu[j]
			sq[j] = n * (float64(st.Var[j]) + d*d)
		}
	}
	if err := r.AllReduceSumFloat64(sq); err != nil {
		return err
	}
	for j := 0; j < c; j++ {
		st.Mean[j] = float32(mu[j])
		st.Var[j] = float32(max(sq[j]/total, 0))
	}
	st.Count = int(total)
	return nil
}
