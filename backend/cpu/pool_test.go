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
