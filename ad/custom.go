package ad

// Custom records an operation whose forward and backward are computed outside
// package ad, typically a fused kernel over flat loops. It returns a result of the
// given shape with a pooled value of undefined contents, which the caller fills
// before using the result. When the result needs a gradient, back runs during
// Backward with the result's gradient g; it must add (not assign) into the input
// gradients obtained from grad(i), which returns nil for an input that needs no
// gradient. back may close over the input values and the result's value.
func (tp *Tape) Custom(shape []int, inputs []*Var, back func(g []float32, grad func(i int) []float32)) *Var {
	out := tp.newVar(shape, inputs...)
	tp.record(out, func() {
		back(out.Grad.Data(), func(i int) []float32 {
			in := inputs[i]
			if in == nil || !in.needGrad {
				return nil
			}
			return tp.grad(in)
		})
	})
	return out
}
