package ad

import "github.com/nvae-go/nvae/tensor"

// NewInferenceTape returns a tape for forward passes that need no gradient
// (evaluation, reconstruction, encoding, sampling): like NewNoGradTape it records
// nothing for Backward, and in addition the code running on it may hand values back
// to the pool as soon as their last reader has run (Free), so that the memory a pass
// holds is its live working set instead of everything it computed. The tape counts the
// bytes it holds (PeakBytes) and can be stopped from outside (StopWhen).
func NewInferenceTape() *Tape { return &Tape{noGrad: true, inference: true} }

// Inference reports whether tp is an inference tape (NewInferenceTape).
func (tp *Tape) Inference() bool { return tp.inference }

// Free declares that nothing will read the values of vs again. On an inference tape
// the storage of each value the tape computed returns to the pool at once (reading
// the value afterwards panics); leaves, parameters, views sharing another value's
// storage (Reshape) and values of other tapes are left alone, as is everything on
// other tapes, where values live until Release. nil entries are skipped.
func (tp *Tape) Free(vs ...*Var) {
	if !tp.inference {
		return
	}
	for _, v := range vs {
		if v != nil && v.home == tp {
			tp.put(v)
		}
	}
}

// put returns v's storage to the pool (once) and stops counting it.
func (tp *Tape) put(v *Var) {
	if d := v.Value.Data(); len(d) > 0 {
		tp.live -= int64(4 * len(d))
		tensor.Put(v.Value)
	}
}

// count adds a new buffer of the tape to the bytes it holds.
func (tp *Tape) count(t *tensor.Tensor) {
	tp.live += int64(4 * t.Len())
	tp.peak = max(tp.peak, tp.live)
}

// transient counts bytes an operation holds outside the tape's buffers while it runs
// (scratch of a fused kernel) in the tape's peak.
func (tp *Tape) transient(bytes int64) {
	tp.peak = max(tp.peak, tp.live+bytes)
}

// PeakBytes is the largest number of bytes the tape's buffers held at once since it
// was made or last released (buffers freed early, by Free or Discard, stop counting
// when freed).
func (tp *Tape) PeakBytes() int64 { return tp.peak }

// Stopped is the panic value of an operation on a tape whose stop condition
// (StopWhen) became true. Code that installs a stop condition recovers it around the
// pass and drops the tape's results.
type Stopped struct{}

// StopWhen makes every later operation on tp that allocates a result check stop
// first and panic with Stopped when it returns true: a long forward pass can be
// interrupted within one operation (by a cancelled context, for example). stop must
// be cheap and safe to call from the goroutine running the pass; nil removes it.
func (tp *Tape) StopWhen(stop func() bool) { tp.stop = stop }

// ShareMemo makes Memo on tp also find the values stored on base (and nothing else of
// base): values derived from the parameters, such as effective weights, are then
// computed once on a long-lived base tape for many passes that need no gradient. base
// must outlive tp's use of those values, and the parameters must not change meanwhile.
func (tp *Tape) ShareMemo(base *Tape) { tp.shared = base }
