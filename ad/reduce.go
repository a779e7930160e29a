package ad

import (
	"fmt"
	"math"
	"slices"

	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// reducedShape returns the shape with the given axes set to 1 and the shape with
// them removed. Negative axes count from the end; no axes means all.
func reducedShape(shape []int, axes []int) (keep, drop []int) {
	keep = slices.Clone(shape)
	if len(axes) == 0 {
		for i := range keep {
			keep[i] = 1
		}
		return keep, []int{}
	}
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) {
			panic(fmt.Sprintf("ad: axis out of range for shape %v", shape))
		}
		keep[a] = 1
	}
	reduced := make([]bool, len(shape))
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		reduced[a] = true
	}
	drop = []int{}
	for i, d := range shape {
		if !reduced[i] {
			drop = append(drop, d)
		}
	}
	return keep, drop
}

// Sum adds x over the given axes (all when none); keepDim keeps them as size 1.
// Sums are accumulated in float64.
func (tp *Tape) Sum(x *Var, keepDim bool, axes ...int) *Var {
	keep, drop := reducedShape(x.Shape(), axes)
	shape := drop
	if keepDim {
		shape = keep
	}
	bc, _ := newBroadcast(x.Shape(), keep)
	out := tp.newVar(shape, x)
	acc := make([]float64, out.Value.Len())
	xd := x.Data()
	if per := trailingBlock(x.Shape(), keep); per > 0 {
		// the reduced axes are the trailing ones: each output sums a contiguous block,
		// in the order of the general loop below
		sumBlocks(acc, xd, per)
	} else {
		bc.each(func(i, _, ib int) { acc[ib] += float64(xd[i]) })
	}
	od := out.Data()
	for i, v := range acc {
		od[i] = float32(v)
	}
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		bc.each(func(i, _, ib int) { gx[i] += g[ib] })
	})
	return out
}

// trailingBlock returns the size of the blocks a reduction from shape to keep (the
// same rank, 1 on the reduced axes) sums when the reduced axes are trailing ones (each
// output is the sum of a contiguous block), and 0 otherwise.
func trailingBlock(shape, keep []int) int {
	k := len(shape)
	for k > 0 && keep[k-1] == 1 {
		k--
	}
	per := 1
	for d := range shape {
		switch {
		case d < k && keep[d] != shape[d]:
			return 0
		case d >= k:
			per *= shape[d]
		}
	}
	return per
}

// Mean averages x over the given axes (all when none).
func (tp *Tape) Mean(x *Var, keepDim bool, axes ...int) *Var {
	s := tp.Sum(x, keepDim, axes...)
	return tp.Scale(s, float32(s.Value.Len())/float32(x.Value.Len()))
}

// Max takes the maximum over the given axes (all when none). The gradient of tied
// maxima is split evenly among them, as PyTorch's full reduction does.
func (tp *Tape) Max(x *Var, keepDim bool, axes ...int) *Var {
	keep, drop := reducedShape(x.Shape(), axes)
	shape := drop
	if keepDim {
		shape = keep
	}
	bc, _ := newBroadcast(x.Shape(), keep)
	out := tp.newVar(shape, x)
	od, xd := out.Data(), x.Data()
	for i := range od {
		od[i] = float32(math.Inf(-1))
	}
	bc.each(func(i, _, ib int) {
		if xd[i] > od[ib] {
			od[ib] = xd[i]
		}
	})
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		count := make([]float32, len(od))
		bc.each(func(i, _, ib int) {
			if xd[i] == od[ib] {
				count[ib]++
			}
		})
		bc.each(func(i, _, ib int) {
			if xd[i] == od[ib] {
				gx[i] += g[ib] / count[ib]
			}
		})
	})
	return out
}

// axisSplit views shape as [outer, n, inner] around axis.
func axisSplit(shape []int, axis int) (outer, n, inner, ax int) {
	if axis < 0 {
		axis += len(shape)
	}
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner, axis
}

// LogSumExp is log Σ exp(x) over one axis, computed stably; keepDim keeps the axis.
func (tp *Tape) LogSumExp(x *Var, axis int, keepDim bool) *Var {
	outer, n, inner, ax := axisSplit(x.Shape(), axis)
	shape := slices.Clone(x.Shape())
	if keepDim {
		shape[ax] = 1
	} else {
		shape = slices.Delete(shape, ax, ax+1)
	}
	out := tp.newVar(shape, x)
	xd, od := x.Data(), out.Data()
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			od[o*inner+in] = float32(sliceLogSumExp(xd, o*n*inner+in, n, inner))
		}
	}
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				y := float64(od[o*inner+in])
				for k := 0; k < n; k++ {
					i := (o*n+k)*inner + in
					gx[i] += g[o*inner+in] * float32(math.Exp(float64(xd[i])-y))
				}
			}
		}
	})
	return out
}

// sliceLogSumExp is log Σ_k exp(x[start + k·stride]) for k < n, computed stably in
// float64 (−Inf when every element is −Inf, +Inf when one is +Inf).
func sliceLogSumExp(x []float32, start, n, stride int) float64 {
	m := math.Inf(-1)
	for k := 0; k < n; k++ {
		m = math.Max(m, float64(x[start+k*stride]))
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for k := 0; k < n; k++ {
		s += math.Exp(float64(x[start+k*stride]) - m)
	}
	return m + math.Log(s)
}

// LogSoftmax is x − logsumexp(x) over one axis.
func (tp *Tape) LogSoftmax(x *Var, axis int) *Var {
	outer, n, inner, _ := axisSplit(x.Shape(), axis)
	out := tp.newVar(x.Shape(), x)
	xd, od := x.Data(), out.Data()
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			l := sliceLogSumExp(xd, o*n*inner+in, n, inner)
			for k := 0; k < n; k++ {
				i := (o*n+k)*inner + in
				od[i] = float32(float64(xd[i]) - l)
			}
		}
	}
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				var s float32
				for k := 0; k < n; k++ {
					s += g[(o*n+k)*inner+in]
				}
				for k := 0; k < n; k++ {
					i := (o*n+k)*inner + in
					gx[i] += g[i] - float32(math.Exp(float64(od[i])))*s
				}
			}
		}
	})
	return out
}

// GlobalAvgPool averages an NHWC tensor over H and W, giving [N, C].
func (tp *Tape) GlobalAvgPool(x *Var) *Var {
	s := x.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("ad.GlobalAvgPool: shape %v, want NHWC", s))
	}
	n, hw, c := s[0], s[1]*s[2], s[3]
	out := tp.newVar([]int{n, c}, x)
	xd, od := x.Data(), out.Data()
	inv := 1 / float32(hw)
	acc := make([]float32, c)
	for b := 0; b < n; b++ {
		clear(acc)
		cpu.AddRowsF32(acc, xd[b*hw*c:(b+1)*hw*c], hw, c) // pixel after pixel
		for j := range acc {
			od[b*c+j] = acc[j] * inv
		}
	}
	tp.record(out, func() {
		g, gx := out.Grad.Data(), tp.grad(x)
		for b := 0; b < n; b++ {
			gr := g[b*c : (b+1)*c]
			for p := 0; p < hw; p++ {
				cpu.AxpyF32(inv, gr, gx[(b*hw+p)*c:(b*hw+p+1)*c])
			}
		}
	})
	return out
}

// scalarLike is a helper for constants in expressions.
func scalarLike(v float32) *Var { return Const(tensor.Scalar(v)) }

// sumBlocks sets acc[b] to the float64 sum of xd[b·per:(b+1)·per] in index order. Four
// blocks are summed side by side: each sum keeps its own order (the same bits as one
// block at a time), but four independent additions are in flight instead of one
// chain waiting on the latency of the last.
func sumBlocks(acc []float64, xd []float32, per int) {
	b := 0
	for ; b+4 <= len(acc); b += 4 {
		x0 := xd[b*per : (b+1)*per]
		x1 := xd[(b+1)*per : (b+2)*per]
		x2 := xd[(b+2)*per : (b+3)*per]
		x3 := xd[(b+3)*per : (b+4)*per]
		x1, x2, x3 = x1[:len(x0)], x2[:len(x0)], x3[:len(x0)]
		var s0, s1, s2, s3 float64
		for j, v := range x0 {
			s0 += float64(v)
			s1 += float64(x1[j])
			s2 += float64(x2[j])
			s3 += float64(x3[j])
		}
		acc[b], acc[b+1], acc[b+2], acc[b+3] = s0, s1, s2, s3
	}
	for ; b < len(acc); b++ {
		sum := 0.0
		for _, v := range xd[b*per : (b+1)*per] {
			sum += float64(v)
		}
		acc[b] = sum
	}
}
