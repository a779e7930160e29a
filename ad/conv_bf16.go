package ad

import (
	"github.com/nvae-go/nvae/backend/cpu"
)

// conv2DBF16 is Conv2D on a BF16 tape (see BF16): bf16 products accumulated in
// float32 (cpu.Conv2DForwardBF16), the output rounded to bf16 values. The backward
// pass rounds x (read through x, so a refilled or compacted value works) and the
// output gradient again (depthwise: the gradient stays float32).
func (tp *Tape) conv2DBF16(p cpu.ConvParams, x, w, b, out *Var, bias []float32, work int64) *Var {
	cpu.Conv2DForwardBF16(p, x.Data(), tp.weightBF16(w), bias, out.Data())
	roundOutBF16(out)
	tp.record(out, func() {
		g := out.Grad.Data()
		if x.needGrad {
			flops.Add(work)
			gx, set := tp.gradSet(x)
			cpu.Conv2DBackwardDataBF16(p, g, tp.weightBF16(w), gx, set)
		}
		if w.needGrad || (b != nil && b.needGrad) {
			flops.Add(work)
			gw, gb := tp.filterGrads(w, b)
			cpu.Conv2DBackwardFilterBF16(p, x.Data(), g, gw, gb)
		}
	})
	return out
}

// linearBF16 is Linear on a BF16 tape: bf16 operands (x rounded, w rounded once per
// pass), float32 accumulation, the output rounded to bf16 values; the backward pass
// rounds the output gradient and x.
func (tp *Tape) linearBF16(x, w, b, out *Var, work int64) *Var {
	xs, ws := x.Shape(), w.Shape()
	n, in, o := xs[0], xs[1], ws[0]
	od := out.Data()
	x16 := make([]uint16, n*in)
	cpu.BF16FromF32Slice(x16, x.Data())
	must(cpu.SgemmBF16(false, true, n, o, in, 1, x16, in, tp.weightBF16(w), in, 0, od, o))
	if b != nil {
		bd := b.Data()
		for i := range od {
			od[i] += bd[i%o]
		}
	}
	roundOutBF16(out)
	tp.record(out, func() {
		g := out.Grad.Data()
		g16 := make([]uint16, len(g))
		cpu.BF16FromF32Slice(g16, g)
		if x.needGrad {
			flops.Add(work)
			gx, set := tp.gradSet(x)
			beta := float32(1)
			if set {
				beta = 0
			}
			must(cpu.SgemmBF16(false, false, n, in, o, 1, g16, o, tp.weightBF16(w), in, beta, gx, in))
		}
		if w.needGrad {
			flops.Add(work)
			x16 := make([]uint16, n*in)
			cpu.BF16FromF32Slice(x16, x.Data())
			must(cpu.SgemmBF16(true, false, o, in, n, 1, g16, o, x16, in, 1, tp.grad(w), in))
		}
		if b != nil && b.needGrad {
			gb := tp.grad(b)
			for i, v := range g {
				gb[i%o] += v
			}
		}
	})
	return out
}

// must panics on an error that shape checks made impossible.
func must(err error) {
	if err != nil {
		panic("ad: " + err.Error())
	}
}
