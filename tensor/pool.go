package tensor

import "sync"

// Buffers are recycled by exact length: a training step allocates the same sizes every
// time, so after the first step Get finds every buffer it needs in the free lists.
var (
	poolMu sync.Mutex
	free   = map[int][][]float32{}
)

// Get returns a tensor of the given shape whose storage comes from the buffer pool.
// Its contents are undefined; use GetZeroed for a cleared one. Return it with Put
// when no longer referenced.
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

// GetZeroed is Get with the storage cleared.
func GetZeroed(shape ...int) *Tensor {
	t := Get(shape...)
	clear(t.data)
	return t
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

// PoolBytes reports how many bytes the free lists hold (for diagnostics).
func PoolBytes() int64 {
	poolMu.Lock()
	defer poolMu.Unlock()
	var s int64
	for n, l := range free {
		s += int64(n) * int64(len(l)) * 4
	}
	return s
}

// DrainPool drops every pooled buffer so the garbage collector can reclaim it.
func DrainPool() {
	poolMu.Lock()
	free = map[int][][]float32{}
	poolMu.Unlock()
}
