package ad

import (
	"fmt"

	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// broadcast describes how two shapes combine under NumPy/PyTorch broadcasting
// (shapes aligned at their trailing dimensions; a dimension of 1 stretches).
type broadcast struct {
	out        []int
	aStr, bStr []int // per output dimension; 0 where the operand is broadcast
	same       bool  // a, b and out have one shape
}

func newBroadcast(a, b []int) (broadcast, error) {
	n := max(len(a), len(b))
	bc := broadcast{out: make([]int, n), aStr: make([]int, n), bStr: make([]int, n)}
	dim := func(s []int, i int) int {
		j := i - (n - len(s))
		if j < 0 {
			return 1
		}
		return s[j]
	}
	for i := 0; i < n; i++ {
		da, db := dim(a, i), dim(b, i)
		switch {
		case da == db, db == 1:
			bc.out[i] = da
		case da == 1:
			bc.out[i] = db
		default:
			return bc, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	sa, sb := 1, 1
	for i := n - 1; i >= 0; i-- {
		if dim(a, i) != 1 {
			bc.aStr[i] = sa
			sa *= dim(a, i)
		}
		if dim(b, i) != 1 {
			bc.bStr[i] = sb
			sb *= dim(b, i)
		}
	}
	bc.same = tensor.SameShape(a, b)
	return bc, nil
}

// each calls fn(i, ia, ib) for every output index with the matching operand indices,
// in increasing i.
func (bc broadcast) each(fn func(i, ia, ib int)) {
	n := tensor.Numel(bc.out)
	if n == 0 {
		return
	}
	nd := len(bc.out)
	if nd == 0 {
		fn(0, 0, 0)
		return
	}
	idx := make([]int, nd)
	ia, ib := 0, 0
	last := nd - 1
	inner, sa, sb := bc.out[last], bc.aStr[last], bc.bStr[last]
	for i := 0; i < n; i += inner {
		for j := 0; j < inner; j++ {
			fn(i+j, ia+j*sa, ib+j*sb)
		}
		// advance the outer multi-index
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			ia += bc.aStr[d]
			ib += bc.bStr[d]
			if idx[d] < bc.out[d] {
				break
			}
			ia -= bc.aStr[d] * bc.out[d]
			ib -= bc.bStr[d] * bc.out[d]
			idx[d] = 0
		}
	}
}

// rows calls fn(i, ia, ib, n, sa, sb) for every run of the innermost dimension: n
// outputs starting at i, operands starting at ia and ib with element strides sa and sb
// (0 or 1). Runs come in increasing i.
func (bc broadcast) rows(fn func(i, ia, ib, n, sa, sb int)) {
	total := tensor.Numel(bc.out)
	if total == 0 {
		return
	}
	nd := len(bc.out)
	if nd == 0 {
		fn(0, 0, 0, 1, 0, 0)
		return
	}
	last := nd - 1
	inner, sa, sb := bc.out[last], bc.aStr[last], bc.bStr[last]
	idx := make([]int, nd)
	ia, ib := 0, 0
	for i := 0; i < total; i += inner {
		fn(i, ia, ib, inner, sa, sb)
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			ia += bc.aStr[d]
			ib += bc.bStr[d]
			if idx[d] < bc.out[d] {
				break
			}
			ia -= bc.aStr[d] * bc.out[d]
			ib -= bc.bStr[d] * bc.out[d]
			idx[d] = 0
		}
	}
}

type binop int

const (
	opAdd binop = iota
	opSub
	opMul
	opDiv
)

func (tp *Tape) binary(a, b *Var, op binop) *Var {
	bc, err := newBroadcast(a.Shape(), b.Shape())
	if err != nil {
		panic("ad: " + err.Error())
	}
	out := tp.newVar(bc.out, a, b)
	ad, bd, od := a.Data(), b.Data(), out.Data()
	if bc.same {
		cpu.Parallel(len(od), 1<<14, func(lo, hi int) {
			binaryRow(op, od[lo:hi], ad[lo:hi], bd[lo:hi], hi-lo, 1, 1)
		})
	} else {
		bc.rows(func(i, ia, ib, n, sa, sb int) {
			binaryRow(op, od[i:i+n], ad[ia:], bd[ib:], n, sa, sb)
		})
	}
	tp.record(out, func() {
		g := out.Grad.Data()
		var ga, gb []float32
		if a.needGrad {
			ga = tp.grad(a)
		}
		if b.needGrad {
			gb = tp.grad(b)
		}
		if bc.same {
			cpu.Parallel(len(g), 1<<14, func(lo, hi int) {
				var gas, gbs []float32
				if ga != nil {
					gas = ga[lo:hi]
				}
				if gb != nil {
					gbs = gb[lo:hi]
				}
				binaryBackRow(op, g[lo:hi], ad[lo:hi], bd[lo:hi], od[lo:hi], gas, gbs, hi-lo, 1, 1)
			})
			return
		}
		bc.rows(func(i, ia, ib, n, sa, sb int) {
			var gas, gbs []float32
			if ga != nil {
				gas = ga[ia:]
			}
			if gb != nil {
				gbs = gb[ib:]
			}
			binaryBackRow(op, g[i:i+n], ad[ia:], bd[ib:], od[i:i+n], gas, gbs, n, sa, sb)
		})
	})
	return out
}

// binaryRow computes dst[j] = a[j·sa] op b[j·sb] for j < n.
func binaryRow(op binop, dst, a, b []float32, n, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			cpu.AddF32(a, b, dst)
		case opSub:
			cpu.SubF32(a, b, dst)
		case opMul:
			cpu.MulF32(a, b, dst)
		case opDiv:
			cpu.DivF32(a, b, dst)
		}
	default:
		for j := 0; j < n; j++ {
			x, y := a[j*sa], b[j*sb]
			switch op {
			case opAdd:
				dst[j] = x + y
			case opSub:
				dst[j] = x - y
			case opMul:
				dst[j] = x * y
			case opDiv:
				dst[j] = x / y
			}
		}
	}
}

// binaryBackRow accumulates the gradients of one run of binaryRow into ga and gb
// (either may be nil). With a zero stride the operand's single element collects the
// sum over the run.
func binaryBackRow(op binop, g, a, b, out, ga, gb []float32, n, sa, sb int) {
	for j := 0; j < n; j++ {
		gj := g[j]
		switch op {
		case opAdd:
			if ga != nil {
				ga[j*sa] += gj
			}
			if gb != nil {
				gb[j*sb] += gj
			}
		case opSub:
			if ga != nil {
				ga[j*sa] += gj
			}
			if gb != nil {
				gb[j*sb] -= gj
			}
		case opMul:
			if ga != nil {
				ga[j*sa] += gj * b[j*sb]
			}
			if gb != nil {
				gb[j*sb] += gj * a[j*sa]
			}
		case opDiv:
			if ga != nil {
				ga[j*sa] += gj / b[j*sb]
			}
			if gb != nil {
				gb[j*sb] -= gj * out[j] / b[j*sb]
			}
		}
	}
}

// Add is a + b with broadcasting.
func (tp *Tape) Add(a, b *Var) *Var { return tp.binary(a, b, opAdd) }

// Sub is a − b with broadcasting.
func (tp *Tape) Sub(a, b *Var) *Var { return tp.binary(a, b, opSub) }

// Mul is a·b with broadcasting.
func (tp *Tape) Mul(a, b *Var) *Var { return tp.binary(a, b, opMul) }

// Div is a / b with broadcasting.
func (tp *Tape) Div(a, b *Var) *Var { return tp.binary(a, b, opDiv) }

// Maximum is the element-wise max of a and b with broadcasting. As in PyTorch, the
// gradient of a tie is split in half between the two inputs.
func (tp *Tape) Maximum(a, b *Var) *Var { return tp.extremum(a, b, true) }

// Minimum is the element-wise min of a and b with broadcasting (ties split in half).
func (tp *Tape) Minimum(a, b *Var) *Var { return tp.extremum(a, b, false) }

func (tp *Tape) extremum(a, b *Var, isMax bool) *Var {
	bc, err := newBroadcast(a.Shape(), b.Shape())
	if err != nil {
		panic("ad: " + err.Error())
	}
	out := tp.newVar(bc.out, a, b)
	ad, bd, od := a.Data(), b.Data(), out.Data()
	bc.each(func(i, ia, ib int) {
		x, y := ad[ia], bd[ib]
		if (x > y) == isMax && x != y {
			od[i] = x
		} else {
			od[i] = y
		}
	})
	tp.record(out, func() {
		g := out.Grad.Data()
		var ga, gb []float32
		if a.needGrad {
			ga = tp.grad(a)
		}
		if b.needGrad {
			gb = tp.grad(b)
		}
		bc.each(func(i, ia, ib int) {
			x, y := ad[ia], bd[ib]
			wa := float32(0)
			switch {
			case x == y:
				wa = 0.5
			case (x > y) == isMax:
				wa = 1
			}
			if ga != nil {
				ga[ia] += wa * g[i]
			}
			if gb != nil {
				gb[ib] += (1 - wa) * g[i]
			}
		})
	})
	return out
}

// Where selects a where cond is non-zero and b elsewhere; cond, a and b share one
// shape. cond is a constant mask.
func (tp *Tape) Where(cond *tensor.Tensor, a, b *Var) *Var {
	if !tensor.SameShape(cond.Shape(), a.Shape()) || !tensor.SameShape(a.Shape(), b.Shape()) {
		panic(fmt.Sprintf("ad.Where: shapes %v, %v, %v differ", cond.Shape(), a.Shape(), b.Shape()))
	}
	out := tp.newVar(a.Shape(), a, b)
	c, ad, bd, od := cond.Data(), a.Data(), b.Data(), out.Data()
	for i := range od {
		if c[i] != 0 {
			od[i] = ad[i]
		} else {
			od[i] = bd[i]
		}
	}
	tp.record(out, func() {
		g := out.Grad.Data()
		if a.needGrad {
			ga := tp.grad(a)
			for i := range g {
				if c[i] != 0 {
					ga[i] += g[i]
				}
			}
		}
		if b.needGrad {
			gb := tp.grad(b)
			for i := range g {
				if c[i] == 0 {
					gb[i] += g[i]
				}
			}
		}
	})
	return out
}
