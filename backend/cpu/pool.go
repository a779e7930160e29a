package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// job is one call of Parallel: its function and the count of chunks not yet done.
type job struct {
	fn      func(lo, hi int)
	pending atomic.Int32
	done    chan struct{} // closed when pending reaches zero
}

// task is one chunk of a job.
type task struct {
	j      *job
	lo, hi int
}

func (t task) run() {
	t.j.fn(t.lo, t.hi)
	if t.j.pending.Add(-1) == 0 {
		close(t.j.done)
	}
}

// overSplit is the number of chunks per worker that a large loop is cut into.
const overSplit = 4

var (
	poolOnce  sync.Once
	poolTasks chan task
	poolSize  int
)

func startPool() {
	poolSize = runtime.GOMAXPROCS(0)
	poolTasks = make(chan task, 4*overSplit*poolSize)
	for i := 0; i < poolSize-1; i++ {
		go worker()
	}
}

// spinPolls is how many times an idle worker, or a caller waiting for its loop to
// finish, polls before it blocks (a millisecond or so): the next loop of a training
// step usually follows within that time, and waking a blocked goroutine costs a futex
// call on both sides. Measured on 2 cores, the spin cut a CIFAR-like training step
// by about 20% and an MNIST one by 15%; it only burns CPU time while a step runs.
const spinPolls = 100000

// worker runs pool tasks until the pool closes, polling for a while before it blocks.
func worker() {
	for {
		for i := 0; i < spinPolls; i++ {
			select {
			case t := <-poolTasks:
				t.run()
				i = 0
			default:
			}
		}
		t, ok := <-poolTasks
		if !ok {
			return
		}
		t.run()
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
// safe to call concurrently on disjoint ranges. The split depends only on n, grain
// and the number of workers, so results are reproducible.
//
// Parallel may be nested: a waiting caller first runs queued chunks itself, and a
// chunk that finds the queue full runs inline, so the pool cannot deadlock.
func Parallel(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if inline.Load() > 0 {
		fn(0, n)
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	// A few chunks per worker, taken as workers become free, keep a loop balanced
	// when a core is busy with something else.
	chunks := n / grain
	if chunks > overSplit*w {
		chunks = overSplit * w
	}
	if chunks <= 1 {
		fn(0, n)
		return
	}
	step := (n + chunks - 1) / chunks
	j := &job{fn: fn, done: make(chan struct{})}
	j.pending.Store(int32((n + step - 1) / step))
	for lo := step; lo < n; lo += step { // the caller takes the first chunk
		t := task{j: j, lo: lo, hi: min(lo+step, n)}
		select {
		case poolTasks <- t:
		default:
			t.run()
		}
	}
	task{j: j, lo: 0, hi: min(step, n)}.run()
	// Help with queued work (ours or a nested loop's), then poll for a while before
	// blocking.
	for i := 0; i < spinPolls; i++ {
		select {
		case <-j.done:
			return
		case t := <-poolTasks:
			t.run()
		default:
		}
	}
	<-j.done
}

// inline counts the Spread calls running: while it is positive every parallel loop
// runs on the goroutine that starts it.
var inline atomic.Int32

// loopWorkers is how many workers a parallel loop started now would use: 1 while a
// Spread runs, Workers otherwise.
func loopWorkers() int {
	if inline.Load() > 0 {
		return 1
	}
	return Workers()
}

// Spread runs fn(0), …, fn(n−1) concurrently, each on its own goroutine (fn(0) on the
// caller's), and returns when all are done. It is for coarse-grained parallelism,
// where the caller splits its work into n large independent parts (n ≤ Workers() keeps
// one part per core): while any Spread runs, every parallel loop of this package, in
// any goroutine of the process, runs serially on the goroutine that starts it, which
// removes the synchronisation of fine-grained loops. Products that would split a sum
// across workers (the k-split of deep products) do not split it, so their rounding
// may differ from a parallel run's; everything else computes the same values. A panic
// in fn(i) is re-raised in the caller once every part has returned.
func Spread(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	inline.Add(1)
	defer inline.Add(-1)
	panics := make([]any, n)
	var wg sync.WaitGroup
	run := func(i int) {
		defer func() { panics[i] = recover() }()
		fn(i)
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(i)
		}()
	}
	run(0)
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
}
