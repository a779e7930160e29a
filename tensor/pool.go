package tensor

import "sync"

// Buffers are recycled by exact length: a training step allocates the same sizes every
// time, so after the first step Get finds every buffer it needs in the free lists.
var (
	poolMu sync.Mutex
	free   = map[int][][]float32{}
)

// Get returns a tensor of the given shape whose storage comes from the buffer pool.
// Its contents are undefined. Return it with Put when no longer referenced.
func Get(shape ...int) *Tensor {
	n := Numel(shape)
	poolMu.Lock()
	l := free[n]
	var buf []float32
	if k := len(l); k > 0 {
		buf = l[k-1]
		free[n] = l[:k-1]
	}
	poolMu.Unlock()
	if buf == nil {
		buf = make([]float32, n)
	}
	return &Tensor{shape: append([]int(nil), shape...), data: buf}
}

// Put hands t's storage back to the pool. t must not be used afterwards, and no other
// tensor may share its storage.
func Put(t *Tensor) {
	if t == nil || len(t.data) == 0 {
		return
	}
	n := len(t.data)
	poolMu.Lock()
	free[n] = append(free[n], t.data[:n:n])
	poolMu.Unlock()
	t.data = nil
}
