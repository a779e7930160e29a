package ad

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// TestSumTrailingAxes: sums over trailing axes (contiguous blocks, the fast path) and
// over other axes give the float64-accumulated sums in index order, bit for bit.
func TestSumTrailingAxes(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	x := tensor.New(9, 4, 1, 6) // 9 images: two groups of four summed side by side and one alone
	for i := range x.Data() {
		x.Data()[i] = float32(r.NormFloat64()) * 1e3
	}
	shape := x.Shape()
	for _, axes := range [][]int{{1, 2, 3}, {2, 3}, {3}, {0, 1, 2, 3}, {}, {1}, {0, 3}, {1, 3}} {
		tp := NewNoGradTape()
		got := tp.Sum(Const(x), true, axes...)
		red := map[int]bool{}
		for _, a := range axes {
			red[a] = true
		}
		if len(axes) == 0 {
			red = map[int]bool{0: true, 1: true, 2: true, 3: true}
		}
		want := make([]float64, got.Value.Len())
		gs := got.Shape()
		for i, v := range x.Data() {
			// index of i in the kept shape
			rem, o, stride := i, 0, 1
			idx := make([]int, 4)
			for d := 3; d >= 0; d-- {
				idx[d] = rem % shape[d]
				rem /= shape[d]
			}
			for d := 3; d >= 0; d-- {
				if !red[d] {
					o += idx[d] * stride
				}
				stride *= gs[d]
			}
			want[o] += float64(v)
		}
		for i, w := range want {
			if math.Float32bits(got.Data()[i]) != math.Float32bits(float32(w)) {
				t.Fatalf("axes %v: sum[%d] = %v, want %v", axes, i, got.Data()[i], float32(w))
			}
		}
		tp.Release()
	}
}
