package ad

// Recompute runs fn as a recomputed segment (what PyTorch calls gradient
// checkpointing; "checkpoint" in this project means a saved training state): the forward
// pass runs fn on a temporary tape that records nothing, keeps only the result (a copy
// owned by tp) and frees every intermediate value at once; Backward runs fn again on a
// recording tape and propagates the result's gradient through it, into the gradients
// of inputs and of any parameter fn uses. Memory held between the passes is therefore
// the inputs and the result only, for one more forward computation of the segment.
//
// fn must compute the same values both times from the same inputs (it receives
// stand-ins for inputs on the tape it is given and must use only those, parameters and
// constants), and must record its operations on the tape it is given. Layers with side
// effects in training mode skip them when the tape is Recomputing (batch normalisation
// updates its running statistics once, in the first run). Values computed on tp before
// the call (such as effective weights) may be used inside fn: gradients reach them
// when the segment is recomputed, before tp's Backward visits them, so the results are
// the same as without recomputation. The result is considered to need a gradient
// whenever tp records.
//
// On a tape that records nothing, Recompute is simply fn(tp, inputs).
func (tp *Tape) Recompute(fn func(tp *Tape, in []*Var) *Var, inputs ...*Var) *Var {
	if tp.noGrad {
		return fn(tp, inputs)
	}
	fwd := &Tape{noGrad: true, parent: tp}
	res := fn(fwd, stand(inputs))
	out := &Var{Value: tp.alloc(res.Shape()...), needGrad: true}
	copy(out.Value.Data(), res.Data())
	fwd.Release()
	tp.record(out, func() {
		sub := &Tape{parent: tp, recompute: true}
		leaves := stand(inputs)
		for i, in := range inputs {
			if in.needGrad {
				tp.grad(in)
				// the segment accumulates straight into the input's gradient
				leaves[i].Grad, leaves[i].needGrad = in.Grad, true
			}
		}
		r := fn(sub, leaves)
		sub.BackwardWith(r, out.Grad)
		for _, l := range leaves {
			l.Grad = nil
		}
		sub.Release()
	})
	return out
}

// stand returns leaves sharing the values of vs that need no gradient.
func stand(vs []*Var) []*Var {
	out := make([]*Var, len(vs))
	for i, v := range vs {
		out[i] = &Var{Value: v.Value}
	}
	return out
}

// Recomputing reports whether tp is re-running a Recompute segment during Backward
// (layers then skip side effects that already happened in the first run).
func (tp *Tape) Recomputing() bool {
	for t := tp; t != nil; t = t.parent {
		if t.recompute {
			return true
		}
	}
	return false
}

// Within reports whether tp is t or a tape of a segment recomputed on t (values
// recorded on t may be used on tp).
func (tp *Tape) Within(t *Tape) bool {
	for s := tp; s != nil; s = s.parent {
		if s == t {
			return true
		}
	}
	return false
}
