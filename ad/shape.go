package ad

import (
	"fmt"
	"slices"

	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// Reshape views x with a new shape of the same size (one dimension may be -1).
// The value shares x's storage.
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	out := &Var{Value: x.Value.Reshape(shape...)}
	out.needGrad = x.needGrad && !tp.noGrad
	tp.record(out, func() { cpu.Axpy(1, out.Grad.Data(), tp.grad(x)) })
	return out
}

// Permute reorders the dimensions of x: output dimension i is input dimension perm[i].
func (tp *Tape) Permute(x *Var, perm ...int) *Var {
	in := x.Shape()
	if len(perm) != len(in) {
		panic(fmt.Sprintf("ad.Permute: perm %v for shape %v", perm, in))
	}
	shape := make([]int, len(in))
	inStr := make([]int, len(in))
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		inStr[i] = s
		s *= in[i]
	}
	str := make([]int, len(in)) // input stride for each output dimension
	for i, p := range perm {
		shape[i] = in[p]
		str[i] = inStr[p]
	}
	out := tp.newVar(shape, x)
	// Map each output index to its input index with a zero-stride "b" operand trick:
	// iterate output positions, tracking the input offset.
	bc := broadcast{out: shape, aStr: str, bStr: make([]int, len(shape))}
	xd, od := x.Data(), out.Data()
	bc.each(func(i, ia, _ int) { od[i] = xd[ia] })
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		bc.each(func(i, ia, _ int) { gx[ia] += g[i] })
	})
	return out
}

// Slice takes x[..., start:end, ...] along one axis.
func (tp *Tape) Slice(x *Var, axis, start, end int) *Var {
	outer, n, inner, ax := axisSplit(x.Shape(), axis)
	if start < 0 || end > n || start > end {
		panic(fmt.Sprintf("ad.Slice: [%d:%d] of axis %d in %v", start, end, axis, x.Shape()))
	}
	shape := slices.Clone(x.Shape())
	shape[ax] = end - start
	out := tp.newVar(shape, x)
	xd, od := x.Data(), out.Data()
	m := (end - start) * inner
	cpu.Parallel(outer, 64, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(od[o*m:(o+1)*m], xd[(o*n+start)*inner:(o*n+end)*inner])
		}
	})
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		cpu.Parallel(outer, 64, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				dst := gx[(o*n+start)*inner : (o*n+end)*inner]
				for j, v := range g[o*m : (o+1)*m] {
					dst[j] += v
				}
			}
		})
	})
	return out
}

// Concat joins xs along one axis; the other dimensions must agree.
func (tp *Tape) Concat(axis int, xs ...*Var) *Var {
	base := xs[0].Shape()
	outer, _, inner, ax := axisSplit(base, axis)
	total := 0
	for _, x := range xs {
		s := x.Shape()
		if len(s) != len(base) {
			panic(fmt.Sprintf("ad.Concat: shapes %v and %v", base, s))
		}
		for i := range s {
			if i != ax && s[i] != base[i] {
				panic(fmt.Sprintf("ad.Concat: shapes %v and %v", base, s))
			}
		}
		total += s[ax]
	}
	shape := slices.Clone(base)
	shape[ax] = total
	out := tp.newVar(shape, xs...)
	od := out.Data()
	off := 0
	offs := make([]int, len(xs))
	for k, x := range xs {
		offs[k] = off
		nk := x.Shape()[ax]
		xd := x.Data()
		for o := 0; o < outer; o++ {
			copy(od[(o*total+off)*inner:(o*total+off+nk)*inner], xd[o*nk*inner:(o+1)*nk*inner])
		}
		off += nk
	}
	tp.record(out, func() {
		g := out.Grad.Data()
		for k, x := range xs {
			if !x.needGrad {
				continue
			}
			nk := x.Shape()[ax]
			gx := tp.grad(x)
			for o := 0; o < outer; o++ {
				src := g[(o*total+offs[k])*inner : (o*total+offs[k]+nk)*inner]
				dst := gx[o*nk*inner : (o+1)*nk*inner]
				for j, v := range src {
					dst[j] += v
				}
			}
		}
	})
	return out
}

// Split cuts x along one axis into consecutive pieces of the given sizes.
func (tp *Tape) Split(x *Var, axis int, sizes ...int) []*Var {
	outs := make([]*Var, len(sizes))
	start := 0
	for i, s := range sizes {
		outs[i] = tp.Slice(x, axis, start, start+s)
		start += s
	}
	return outs
}

// BroadcastTo expands x to shape by broadcasting (the gradient sums back).
func (tp *Tape) BroadcastTo(x *Var, shape ...int) *Var {
	zero := Const(tensor.New(shape...))
	return tp.Add(zero, x)
}
