package ad

import (
	"math"

	"github.com/nvae-go/nvae/backend/cpu"
)

// unary applies f element-wise; df(x, y) is dy/dx given the input and output.
func (tp *Tape) unary(x *Var, f func(float32) float32, df func(x, y float32) float32) *Var {
	out := tp.newVar(x.Shape(), x)
	cpu.Map(out.Data(), x.Data(), f)
	tp.record(out, func() {
		cpu.MapBack(tp.grad(x), out.Grad.Data(), x.Data(), out.Data(), df)
	})
	return out
}

// vector applies a vectorised element-wise kernel; back accumulates the input gradient
// from the output gradient, the input and the output.
func (tp *Tape) vector(x *Var, f func(dst, src []float32), back func(gx, gy, x, y []float32)) *Var {
	out := tp.newVar(x.Shape(), x)
	f(out.Data(), x.Data())
	tp.record(out, func() { back(tp.grad(x), out.Grad.Data(), x.Data(), out.Data()) })
	return out
}

// Swish is x·sigmoid(x), with the analytic derivative σ(x)(1 + x(1 − σ(x))).
func (tp *Tape) Swish(x *Var) *Var {
	return tp.vector(x, cpu.SwishSlice, func(gx, gy, x, _ []float32) { cpu.SwishBackward(gx, gy, x) })
}

// ELU is x for x > 0 and exp(x) − 1 otherwise (α = 1).
func (tp *Tape) ELU(x *Var) *Var {
	return tp.vector(x, cpu.ELUSlice, cpu.ELUBackward)
}

// ReLU is max(x, 0); its gradient at 0 is 0, as in PyTorch.
func (tp *Tape) ReLU(x *Var) *Var {
	return tp.unary(x, func(v float32) float32 {
		if v > 0 {
			return v
		}
		return 0
	}, func(x, _ float32) float32 {
		if x > 0 {
			return 1
		}
		return 0
	})
}

// Sigmoid is 1/(1+exp(−x)).
func (tp *Tape) Sigmoid(x *Var) *Var {
	return tp.vector(x, cpu.SigmoidSlice, func(gx, gy, _, y []float32) { cpu.SigmoidBackward(gx, gy, y) })
}

// Tanh is the hyperbolic tangent.
func (tp *Tape) Tanh(x *Var) *Var {
	return tp.vector(x, cpu.TanhSlice, func(gx, gy, x, y []float32) {
		cpu.MapBack(gx, gy, x, y, func(_, y float32) float32 { return 1 - y*y })
	})
}

// Softplus is log(1 + exp(x)) (returning x above 20, as PyTorch does).
func (tp *Tape) Softplus(x *Var) *Var {
	return tp.unary(x, cpu.Softplus, func(x, _ float32) float32 {
		if x > 20 {
			return 1
		}
		return cpu.Sigmoid(x)
	})
}

// Exp is e^x.
func (tp *Tape) Exp(x *Var) *Var {
	return tp.vector(x, cpu.ExpSlice, func(gx, gy, _, y []float32) { cpu.MulAcc(gx, gy, y) })
}

// Log is the natural logarithm.
func (tp *Tape) Log(x *Var) *Var {
	return tp.unary(x, func(v float32) float32 { return float32(math.Log(float64(v))) },
		func(x, _ float32) float32 { return 1 / x })
}

// Square is x².
func (tp *Tape) Square(x *Var) *Var {
	return tp.unary(x, func(v float32) float32 { return v * v },
		func(x, _ float32) float32 { return 2 * x })
}

// Sqrt is √x.
func (tp *Tape) Sqrt(x *Var) *Var {
	return tp.unary(x, func(v float32) float32 { return float32(math.Sqrt(float64(v))) },
		func(_, y float32) float32 { return 0.5 / y })
}

// Abs is |x|; its gradient is sign(x) (0 at 0), as in PyTorch.
func (tp *Tape) Abs(x *Var) *Var {
	return tp.unary(x, func(v float32) float32 {
		if v < 0 {
			return -v
		}
		return v
	}, func(x, _ float32) float32 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	})
}

// Neg is −x.
func (tp *Tape) Neg(x *Var) *Var { return tp.Scale(x, -1) }

// Scale is c·x for a constant c.
func (tp *Tape) Scale(x *Var, c float32) *Var {
	out := tp.newVar(x.Shape(), x)
	cpu.Scale(out.Data(), c, x.Data())
	tp.record(out, func() { cpu.Axpy(c, out.Grad.Data(), tp.grad(x)) })
	return out
}

// AddScalar is x + c for a constant c.
func (tp *Tape) AddScalar(x *Var, c float32) *Var {
	return tp.unary(x, func(v float32) float32 { return v + c }, func(_, _ float32) float32 { return 1 })
}

// Clamp limits x to [lo, hi]; the gradient passes where lo ≤ x ≤ hi (PyTorch's
// clamp). Use math.Inf for a one-sided clamp.
func (tp *Tape) Clamp(x *Var, lo, hi float32) *Var {
	return tp.unary(x, func(v float32) float32 {
		if v < lo {
			return lo
		}
		if v > hi {
			return hi
		}
		return v
	}, func(x, _ float32) float32 {
		if x >= lo && x <= hi {
			return 1
		}
		return 0
	})
}

// SoftClamp is c·tanh(x/c), NVAE's smooth clamp into (−c, c).
func (tp *Tape) SoftClamp(x *Var, c float32) *Var {
	return tp.vector(x, func(dst, src []float32) {
		cpu.DivScalarF32(src, c, dst)
		cpu.TanhSlice(dst, dst)
		cpu.ScaleF32(dst, c, dst)
	}, func(gx, gy, x, y []float32) {
		cpu.MapBack(gx, gy, x, y, func(_, y float32) float32 { t := y / c; return 1 - t*t })
	})
}
