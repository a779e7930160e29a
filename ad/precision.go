package ad

import (
	"fmt"
	"sync"

	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// Precision is the arithmetic of a tape's convolutions and linear products.
type Precision int

const (
	// FP32 computes every product in float32 (the default).
	FP32 Precision = iota
	// BF16 is mixed precision: convolutions (dense, grouped, 1×1, depthwise) and
	// linear products take bf16 operands — weights rounded once per pass from the
	// float32 master copy, activations and output gradients rounded to nearest even —
	// and accumulate in float32; their outputs are rounded to bf16 values (kept in
	// float32), so Compact can store them in half the memory without changing them.
	// Everything else (batch norm and its statistics, element-wise ops, reductions,
	// gradients, parameters) stays float32.
	BF16
)

// String is "fp32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision parses "fp32" or "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32":
		return FP32, nil
	case "bf16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: want fp32 or bf16", s)
}

// SetPrecision sets the precision of the operations recorded on tp from now on (and
// on the segments recomputed for it).
func (tp *Tape) SetPrecision(p Precision) { tp.prec = p }

// Precision is the tape's precision: its own if set, else that of the tape it belongs
// to (a recomputed segment runs at its parent's precision).
func (tp *Tape) Precision() Precision {
	for t := tp; t != nil; t = t.parent {
		if t.prec != FP32 {
			return t.prec
		}
	}
	return FP32
}

// weightBF16 returns w's value rounded to bf16, computed once per pass: cached on tp
// (or found on a tape whose segment tp recomputes) until Release or Forget.
func (tp *Tape) weightBF16(w *Var) []uint16 {
	for t := tp; t != nil; t = t.parent {
		if h, ok := t.half[w]; ok {
			return h
		}
	}
	h := getU16(w.Value.Len())
	cpu.BF16FromF32Slice(h, w.Data())
	if tp.half == nil {
		tp.half = map[*Var][]uint16{}
	}
	tp.half[w] = h
	return h
}

// roundBF16 rounds out's value to bf16 values in place and marks it exact (see Compact).
func roundOutBF16(out *Var) {
	cpu.RoundBF16(out.Data(), out.Data())
	out.exact16 = true
}

// Compact stores v in bf16 until Backward needs it, when v holds bf16 values exactly
// (the output of a convolution or linear product on a BF16 tape): its float32
// storage returns to the pool now and Backward widens the stored copy back (exactly)
// before the backward functions that read it, then drops it again after v's own
// backward, as Discard does for recomputable values. The conditions are Discard's:
// the forward pass does not read v again, and the operations that read v were
// recorded before and read it through v in their backward. For any other value, and
// on an FP32 tape, Compact does nothing, so FP32 runs are unchanged.
func (tp *Tape) Compact(v *Var) {
	if !v.exact16 || v.refill != nil || tp.noGrad || tp.Precision() != BF16 || v.Value.Data() == nil {
		return
	}
	last := len(tp.nodes) - 1
	if !v.needGrad || last <= v.node || tp.nodes[v.node] != v {
		return
	}
	if tp.refillAt == nil {
		tp.refillAt, tp.dropAt = map[int][]*Var{}, map[int][]*Var{}
	}
	h := getU16(v.Value.Len())
	cpu.BF16FromF32Slice(h, v.Data())
	tp.compactBytes += int64(2 * len(h))
	tp.halves = append(tp.halves, h)
	tensor.Put(v.Value)
	v.refill = func(dst []float32) { cpu.F32FromBF16Slice(dst, h) }
	v.compacted = true
	tp.refillAt[last] = append(tp.refillAt[last], v)
	tp.dropAt[v.node] = append(tp.dropAt[v.node], v)
}

// materialize makes sure v's value is present for a refill that reads it: a compacted
// value is widened now (it is dropped at its own node as scheduled).
func (tp *Tape) materialize(v *Var) {
	if v.compacted && v.Value.Data() == nil {
		v.Value = tp.alloc(v.Value.Shape()...)
		v.refill(v.Value.Data())
	}
}

// HeldBytes is the activation storage the tape holds now: the float32 buffers it
// owns that have not been returned to the pool, plus the bf16 copies made by
// Compact. After a forward pass it is what the pass keeps for Backward (with the
// pass's other temporaries).
func (tp *Tape) HeldBytes() int64 {
	n := tp.compactBytes
	for _, t := range tp.owned {
		n += 4 * int64(len(t.Data()))
	}
	return n
}

// The bf16 buffers (weights of a pass, compacted values) are recycled by exact length,
// as tensor buffers are: a step needs the same sizes every time.
var (
	u16Mu   sync.Mutex
	u16Free = map[int][][]uint16{}
)

// getU16 returns a pooled buffer of n uint16 (contents undefined).
func getU16(n int) []uint16 {
	u16Mu.Lock()
	defer u16Mu.Unlock()
	if l := u16Free[n]; len(l) > 0 {
		h := l[len(l)-1]
		u16Free[n] = l[:len(l)-1]
		return h
	}
	return make([]uint16, n)
}

// putU16 returns h to the pool; it must not be used afterwards.
func putU16(h []uint16) {
	if len(h) == 0 {
		return
	}
	u16Mu.Lock()
	u16Free[len(h)] = append(u16Free[len(h)], h[:len(h):len(h)])
	u16Mu.Unlock()
}

// releaseHalves returns the tape's bf16 buffers to the pool.
func (tp *Tape) releaseHalves() {
	for _, h := range tp.half {
		putU16(h)
	}
	clear(tp.half)
	for _, h := range tp.halves {
		putU16(h)
	}
	clear(tp.halves)
	tp.halves = tp.halves[:0]
	tp.compactBytes = 0
}
