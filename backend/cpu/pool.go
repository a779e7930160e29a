// Package cpu holds the CPU kernels of the engine: matrix products, convolutions,
// batch normalisation, element-wise maps and reductions over plain float32 slices,
// and the persistent worker pool they run on. Only this package knows how loops
// run and how memory is laid out; the layers above see tensors.
package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// task is one chunk of a parallel loop.
type task struct {
	fn      func(lo, hi int)
	lo, hi  int
	pending *atomic.Int32
}

func (t task) run() {
	t.fn(t.lo, t.hi)
	t.pending.Add(-1)
}

var (
	poolOnce  sync.Once
	poolTasks chan task
	poolSize  int
)

func startPool() {
	poolSize = runtime.GOMAXPROCS(0)
	poolTasks = make(chan task, 4*poolSize)
	for i := 0; i < poolSize-1; i++ {
		go func() {
			for t := range poolTasks {
				t.run()
			}
		}()
	}
}

// Workers reports how many goroutines (the caller included) share a parallel loop.
// It is fixed at the first use of the pool from GOMAXPROCS.
func Workers() int {
	poolOnce.Do(startPool)
	return poolSize
}

// Parallel runs fn over the index range [0, n) split into contiguous chunks, using the
// persistent worker pool and the calling goroutine. Chunks are never smaller than
// grain indices, so small loops run inline without any synchronisation. fn must be
// safe to call concurrently on disjoint ranges.
func Parallel(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	chunks := n / grain
	if chunks > w {
		chunks = w
	}
	if chunks <= 1 {
		fn(0, n)
		return
	}
	var pending atomic.Int32
	step := (n + chunks - 1) / chunks
	lo := step // the caller takes the first chunk
	for lo < n {
		hi := lo + step
		if hi > n {
			hi = n
		}
		pending.Add(1)
		t := task{fn: fn, lo: lo, hi: hi, pending: &pending}
		select {
		case poolTasks <- t:
		default:
			// The queue is full (nested parallel loops on every worker): run the
			// chunk here rather than block, so the pool can never deadlock.
			t.run()
		}
		lo = hi
	}
	fn(0, min(step, n))
	// Help with queued work while waiting, so that a Parallel nested inside a
	// worker's chunk cannot deadlock the pool.
	for pending.Load() > 0 {
		select {
		case t := <-poolTasks:
			t.run()
		default:
			runtime.Gosched()
		}
	}
}
