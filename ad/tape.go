// Package ad is the engine's eager reverse-mode automatic differentiation. A Tape
// records the operations of one step as they run; Backward walks it in reverse and
// accumulates gradients; Release returns every buffer the step allocated to the pool.
// Parameters are long-lived leaves (NewParam) whose gradients outlive tapes.
//
// Every op lives with its backward in the same file, and every op has a
// finite-difference gradient test. Image tensors are NHWC and convolution weights
// OHWI, as in package tensor.
package ad

import (
	"fmt"

	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// Var is a value in a computation: a tensor, its gradient (once Backward reaches it)
// and, for computed values, how to send that gradient to its inputs.
type Var struct {
	Value *tensor.Tensor
	// Grad is the accumulated gradient. For parameters it is persistent (see
	// ZeroGrad); for intermediate values it exists only during Backward.
	Grad *tensor.Tensor

	needGrad bool
	param    bool
	back     func()
	// refill recomputes the value into a buffer of its size (see Tape.Discard); node
	// is the index of v on its tape (meaningful only when v is recorded).
	refill func(dst []float32)
	node   int
	// deps are the values refill reads (materialized first when compacted); exact16
	// marks a value holding bf16 values exactly and compacted one stored in bf16 (see
	// Tape.Compact).
	deps      []*Var
	exact16   bool
	compacted bool
	// home is the tape that allocated the value (nil for leaves and views), which
	// alone may free it early (see Tape.Free).
	home *Tape
}

// NewParam wraps t as a trainable leaf: it requires a gradient, which is kept across
// tapes in a persistent buffer of the same shape (zero at creation).
func NewParam(t *tensor.Tensor) *Var {
	return &Var{Value: t, Grad: tensor.New(t.Shape()...), needGrad: true, param: true}
}

// Const wraps t as a leaf that needs no gradient.
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// Data is the value's storage.
func (v *Var) Data() []float32 { return v.Value.Data() }

// NeedsGrad reports whether gradients flow into v.
func (v *Var) NeedsGrad() bool { return v.needGrad }

// IsParam reports whether v is a parameter leaf.
func (v *Var) IsParam() bool { return v.param }

// ZeroGrad clears a parameter's gradient.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		clear(v.Grad.Data())
	}
}

// Tape records one step's operations. The zero value is not usable; call NewTape.
// A tape is used by one goroutine at a time.
type Tape struct {
	nodes  []*Var
	owned  []*tensor.Tensor
	noGrad bool
	// parent is the tape a recomputed segment's temporary tape belongs to; recompute
	// marks the tape re-running such a segment during Backward (see Recompute).
	parent    *Tape
	recompute bool
	// refillAt and dropAt map node indices to the discarded values that Backward
	// recomputes before that node's backward and drops again after it (see Discard).
	refillAt, dropAt map[int][]*Var
	// prec is the precision set on the tape, half the bf16 weights of the pass (see
	// weightBF16) and compactBytes the bf16 storage made by Compact.
	prec         Precision
	half         map[*Var][]uint16
	halves       [][]uint16
	compactBytes int64
	// memo holds values computed once per pass and shared by their users (see Memo);
	// shared is a tape whose stored values Memo finds too (see ShareMemo).
	memo   map[any]*Var
	shared *Tape
	// err is the first failure of an operation that cannot stop the pass (see Err).
	err error
	// inference marks a tape of NewInferenceTape (see Free); live and peak count the
	// bytes it allocated and holds, stop is checked at every allocation (StopWhen).
	inference  bool
	live, peak int64
	stop       func() bool
}

// NewTape returns an empty tape that records gradients.
func NewTape() *Tape { return &Tape{} }

// NewNoGradTape returns a tape that records nothing for Backward (evaluation,
// sampling); it still owns the buffers it allocates until Release.
func NewNoGradTape() *Tape { return &Tape{noGrad: true} }

// NoGrad reports whether the tape skips gradient recording.
func (tp *Tape) NoGrad() bool { return tp.noGrad }

// Memo returns the value stored under key on tp, or on a tape whose segment tp
// recomputes, or else computes it on tp with compute, stores it on tp and returns it.
// Release forgets the stored values, so a value never outlives the pass it was
// computed in. Layers use it for values derived from parameters once per pass (the
// effective weights of convolutions).
func (tp *Tape) Memo(key any, compute func() *Var) *Var {
	for t := tp; t != nil; t = t.parent {
		if v, ok := t.memo[key]; ok {
			return v
		}
		if t.shared != nil {
			if v, ok := t.shared.memo[key]; ok {
				return v
			}
		}
	}
	v := compute()
	if tp.memo == nil {
		tp.memo = map[any]*Var{}
	}
	tp.memo[key] = v
	return v
}

// Forget drops the value stored under key on tp and on the tapes it belongs to (after
// what it was computed from changed).
func (tp *Tape) Forget(key any) {
	for t := tp; t != nil; t = t.parent {
		delete(t.memo, key)
		for _, h := range t.half { // the bf16 weights may derive from what changed
			putU16(h)
		}
		clear(t.half)
	}
}

// Err returns the first error an operation recorded on the tape (or on a segment
// recomputed for it), such as a failed reduction of synchronized batch-norm
// statistics, or nil. Such an operation carries on with local values, so a caller
// that installs a fallible hook checks Err after the forward and after the backward
// pass. The error stays until the tape is dropped.
func (tp *Tape) Err() error { return tp.err }

// Fail records err on tp (and on the tapes it belongs to) for Err, keeping the first
// error: a layer whose fallible hook (a cross-process reduction) failed reports it so,
// and carries on with local values.
func (tp *Tape) Fail(err error) { tp.fail(err) }

// fail records err on tp and on the tapes it belongs to, keeping the first error.
func (tp *Tape) fail(err error) {
	for t := tp; t != nil; t = t.parent {
		if t.err == nil {
			t.err = err
		}
	}
}

// alloc returns a pooled tensor owned by the tape (contents undefined).
func (tp *Tape) alloc(shape ...int) *tensor.Tensor {
	if tp.stop != nil && tp.stop() {
		panic(Stopped{})
	}
	t := tensor.Get(shape...)
	tp.owned = append(tp.owned, t)
	tp.count(t)
	return t
}

// allocZero is alloc with the storage cleared.
func (tp *Tape) allocZero(shape ...int) *tensor.Tensor {
	t := tp.alloc(shape...)
	zero(t.Data())
	return t
}

// Own hands t to the tape, which returns it to the pool on Release. Use it for
// buffers from tensor.Get whose lifetime is the step.
func (tp *Tape) Own(t *tensor.Tensor) {
	tp.owned = append(tp.owned, t)
	tp.count(t)
}

// newVar makes a result variable with a pooled value of the given shape. It needs a
// gradient when any input does and the tape records.
func (tp *Tape) newVar(shape []int, inputs ...*Var) *Var {
	v := &Var{Value: tp.alloc(shape...), home: tp}
	if !tp.noGrad {
		for _, in := range inputs {
			if in != nil && in.needGrad {
				v.needGrad = true
				break
			}
		}
	}
	return v
}

// record attaches the backward function of v and puts v on the tape when it needs
// a gradient.
func (tp *Tape) record(v *Var, back func()) {
	if v.needGrad {
		v.back = back
		v.node = len(tp.nodes)
		tp.nodes = append(tp.nodes, v)
	}
}

// grad returns v's gradient buffer, creating a zeroed one when needed.
func (tp *Tape) grad(v *Var) []float32 {
	if v.Grad == nil {
		v.Grad = tensor.Get(v.Value.Shape()...)
		zero(v.Grad.Data())
	}
	return v.Grad.Data()
}

// gradSet returns v's gradient buffer for an operation that will add its
// contribution to it. When v has no gradient yet, the buffer is new and not cleared,
// set reports true, and the caller must overwrite every element with its
// contribution (the same values as adding them to zeros).
func (tp *Tape) gradSet(v *Var) (g []float32, set bool) {
	if v.Grad == nil {
		v.Grad = tensor.Get(v.Value.Shape()...)
		return v.Grad.Data(), true
	}
	return v.Grad.Data(), false
}

// zero clears d, in parallel when it is large.
func zero(d []float32) {
	cpu.Parallel(len(d), 1<<15, func(lo, hi int) { clear(d[lo:hi]) })
}

// Backward seeds d(loss)/d(loss) = 1 for a single-element loss and propagates
// gradients to every variable recorded on the tape, accumulating into parameters'
// Grad. Intermediate gradients are returned to the pool as soon as they are used.
func (tp *Tape) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("ad.Backward: loss has shape %v, want one element", loss.Shape()))
	}
	tp.BackwardWith(loss, tensor.FromData([]float32{1}, loss.Shape()...))
}

// BackwardWith propagates an explicit output gradient (same shape as out).
func (tp *Tape) BackwardWith(out *Var, g *tensor.Tensor) {
	if !out.needGrad {
		return
	}
	og := tp.grad(out)
	for i, x := range g.Data() {
		og[i] += x
	}
	for i := len(tp.nodes) - 1; i >= 0; i-- {
		v := tp.nodes[i]
		for _, d := range tp.refillAt[i] {
			if d.compacted && d.Value.Data() != nil {
				continue // already widened for a refill that read it
			}
			for _, x := range d.deps {
				tp.materialize(x)
			}
			d.Value = tp.alloc(d.Value.Shape()...)
			d.refill(d.Value.Data())
		}
		if v.Grad != nil {
			v.back()
			if !v.param {
				tensor.Put(v.Grad)
				v.Grad = nil
			}
		}
		for _, d := range tp.dropAt[i] {
			tp.put(d)
		}
	}
}

// Discard declares that the forward pass will not read v again: its storage returns to
// the pool now, and Backward recomputes it (bit for bit) for the backward functions of
// the operations that read it, then drops it again once v's own backward has run.
// Every Backward on the tape recomputes and drops the value the same way. Only values
// whose operation can recompute them are discarded (batch normalisation
// outputs); for others, and for values that need no gradient on a recording tape,
// Discard does nothing. On a tape that records nothing the storage is simply freed.
// Operations that read v must have been recorded before Discard is called, and must
// read v's value through v (not a slice captured at forward time) in their backward.
func (tp *Tape) Discard(v *Var) {
	if v.refill == nil {
		return
	}
	if tp.noGrad {
		tp.put(v)
		return
	}
	last := len(tp.nodes) - 1
	if !v.needGrad || last <= v.node || tp.nodes[v.node] != v {
		return
	}
	if tp.refillAt == nil {
		tp.refillAt, tp.dropAt = map[int][]*Var{}, map[int][]*Var{}
	}
	tp.put(v)
	// The readers of v are the nodes recorded after it: they run in Backward from the
	// last one down to v's own node.
	tp.refillAt[last] = append(tp.refillAt[last], v)
	tp.dropAt[v.node] = append(tp.dropAt[v.node], v)
}

// Release returns every buffer the tape allocated to the pool and forgets the
// recorded graph. Values produced on the tape must not be used afterwards.
func (tp *Tape) Release() {
	for _, v := range tp.nodes {
		if v.Grad != nil && !v.param {
			tensor.Put(v.Grad)
			v.Grad = nil
		}
		v.back = nil
	}
	for _, t := range tp.owned {
		tensor.Put(t)
	}
	tp.nodes = tp.nodes[:0]
	tp.owned = tp.owned[:0]
	tp.live, tp.peak = 0, 0
	clear(tp.refillAt)
	clear(tp.dropAt)
	clear(tp.memo)
	tp.releaseHalves()
}

// Detach returns a variable sharing x's value that stops gradients.
func (tp *Tape) Detach(x *Var) *Var { return &Var{Value: x.Value} }
