package cpu

import (
	"sync/atomic"
	"testing"
)

func TestParallelCoversRangeOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 10000} {
		for _, grain := range []int{1, 3, 1000} {
			hits := make([]int32, n)
			Parallel(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
		}
	}
}

func TestParallelNestedDoesNotDeadlock(t *testing.T) {
	var total atomic.Int64
	Parallel(64, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			Parallel(64, 1, func(a, b int) {
				for j := a; j < b; j++ {
					Parallel(8, 1, func(c, d int) { total.Add(int64(d - c)) })
				}
			})
		}
	})
	if got := total.Load(); got != 64*64*8 {
		t.Fatalf("nested loops covered %d indices, want %d", got, 64*64*8)
	}
}

// TestSpread checks that every part runs once, that parallel loops inside a Spread
// run as one inline call, that loops run in parallel again afterwards, and that a
// part's panic reaches the caller.
func TestSpread(t *testing.T) {
	const n = 3
	var ran [n]atomic.Int32
	var calls atomic.Int32
	Spread(n, func(i int) {
		ran[i].Add(1)
		Parallel(1<<16, 1, func(lo, hi int) {
			calls.Add(1)
			if lo != 0 || hi != 1<<16 {
				t.Errorf("part %d: loop chunk [%d,%d) inside Spread, want the whole range", i, lo, hi)
			}
		})
	})
	for i := range ran {
		if r := ran[i].Load(); r != 1 {
			t.Fatalf("part %d ran %d times", i, r)
		}
	}
	if c := calls.Load(); c != n {
		t.Fatalf("%d loop calls inside Spread, want %d", c, n)
	}
	if Workers() > 1 {
		calls.Store(0)
		Parallel(1<<16, 1, func(lo, hi int) { calls.Add(1) })
		if calls.Load() < 2 {
			t.Fatal("a loop after Spread ran in one piece")
		}
	}
	defer func() {
		if r := recover(); r != "part 1" {
			t.Fatalf("recovered %v, want the panic of part 1", r)
		}
	}()
	Spread(2, func(i int) {
		if i == 1 {
			panic("part 1")
		}
	})
	t.Fatal("Spread returned after a part panicked")
}
