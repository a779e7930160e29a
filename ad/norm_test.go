package ad_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// groupReducer sums buffers over the n members of an in-process group: each call
// waits for the calls of the other members, as an all-reduce across processes does.
type groupReducer struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	round int
	bufs  [][]float64
	calls int
}

func newGroupReducer(n int) *groupReducer {
	g := &groupReducer{n: n}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *groupReducer) AllReduceSumFloat64(buf []float64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	round := g.round
	g.bufs = append(g.bufs, buf)
	if len(g.bufs) < g.n {
		for g.round == round {
			g.cond.Wait()
		}
		return nil
	}
	sum := make([]float64, len(buf))
	for _, b := range g.bufs {
		if len(b) != len(buf) {
			return errors.New("members reduce buffers of different lengths")
		}
		for i, v := range b {
			sum[i] += v
		}
	}
	for _, b := range g.bufs {
		copy(b, sum)
	}
	g.bufs = nil
	g.calls++
	g.round++
	g.cond.Broadcast()
	return nil
}

// failReducer fails every reduction.
type failReducer struct{}

func (failReducer) AllReduceSumFloat64([]float64) error { return errors.New("link down") }

// TestSyncBatchNormMatchesWholeBatch splits a batch between two in-process members
// joined by a reducer and checks that each member's output, input gradient and
// statistics match a batch norm over the whole batch, and that the members' γ and β
// gradients add up to the whole batch's.
func TestSyncBatchNormMatchesWholeBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const c = 5
	// unequal shares (3 and 1 images) and a large offset test the combination
	xv := testutil.Uniform(r, -1, 1, 4, 3, 3, c)
	for i := range xv.Data() {
		xv.Data()[i] += 10
	}
	gv := testutil.Uniform(r, -1, 1, 4, 3, 3, c)
	gammaV, betaV := testutil.Uniform(r, 0.5, 1.5, c), testutil.Uniform(r, -1, 1, c)
	rows := 3 * 3 * c

	type result struct {
		out, gx, gg, gb []float32
		st              ad.BatchStats
	}
	run := func(lo, hi int, red ad.StatReducer) result {
		x := ad.NewParam(tensor.FromData(append([]float32(nil), xv.Data()[lo*rows:hi*rows]...), hi-lo, 3, 3, c))
		gamma, beta := ad.NewParam(gammaV.Clone()), ad.NewParam(betaV.Clone())
		tp := ad.NewTape()
		defer tp.Release()
		y, st := tp.BatchNormTrain(x, gamma, beta, ad.BatchNormOpts{Eps: 1e-5, Swish: true, Reducer: red})
		tp.BackwardWith(y, tensor.FromData(append([]float32(nil), gv.Data()[lo*rows:hi*rows]...), hi-lo, 3, 3, c))
		if err := tp.Err(); err != nil {
			t.Error(err)
		}
		st.Mean, st.Var = append([]float32(nil), st.Mean...), append([]float32(nil), st.Var...)
		cl := func(v []float32) []float32 { return append([]float32(nil), v...) }
		return result{cl(y.Data()), cl(x.Grad.Data()), cl(gamma.Grad.Data()), cl(beta.Grad.Data()), st}
	}
	whole := run(0, 4, nil)
	red := newGroupReducer(2)
	var parts [2]result
	var wg sync.WaitGroup
	for i, span := range [2][2]int{{0, 3}, {3, 4}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = run(span[0], span[1], red)
		}()
	}
	wg.Wait()
	if red.calls != 3 {
		t.Errorf("%d reductions, want 3 (two forward, one backward)", red.calls)
	}
	near := func(what string, got, want []float32, tol float64) {
		t.Helper()
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(d) {
				t.Errorf("%s[%d] = %v, whole batch %v", what, i, got[i], want[i])
				return
			}
		}
	}
	out := append(parts[0].out, parts[1].out...)
	gx := append(parts[0].gx, parts[1].gx...)
	near("output", out, whole.out, 1e-5)
	near("input gradient", gx, whole.gx, 1e-4)
	gg, gb := make([]float32, c), make([]float32, c)
	for j := range gg {
		gg[j] = parts[0].gg[j] + parts[1].gg[j]
		gb[j] = parts[0].gb[j] + parts[1].gb[j]
	}
	near("γ gradient sum", gg, whole.gg, 1e-4)
	near("β gradient sum", gb, whole.gb, 1e-4)
	for i, p := range parts {
		if p.st.Count != whole.st.Count {
			t.Errorf("member %d count %d, want %d", i, p.st.Count, whole.st.Count)
		}
		near("mean", p.st.Mean, whole.st.Mean, 1e-6)
		near("variance", p.st.Var, whole.st.Var, 1e-4)
	}
}

// TestSyncBatchNormReducerError checks that a failing reducer is reported by the tape
// and the pass carries on with local statistics.
func TestSyncBatchNormReducerError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := ad.NewParam(testutil.Uniform(r, -1, 1, 2, 2, 2, 3))
	gamma, beta := ad.NewParam(testutil.Uniform(r, 0.5, 1.5, 3)), ad.NewParam(tensor.New(3))
	tp := ad.NewTape()
	defer tp.Release()
	y, st := tp.BatchNormTrain(x, gamma, beta, ad.BatchNormOpts{Eps: 1e-5, Reducer: failReducer{}})
	if tp.Err() == nil {
		t.Fatal("no error recorded after a failed reduction")
	}
	local, lst := ad.NewNoGradTape().BatchNormTrain(x, gamma, beta, ad.BatchNormOpts{Eps: 1e-5})
	if st.Count != lst.Count || st.Mean[0] != lst.Mean[0] || y.Data()[0] != local.Data()[0] {
		t.Errorf("after the failure: count %d mean %v output %v, local %d %v %v", st.Count, st.Mean[0], y.Data()[0], lst.Count, lst.Mean[0], local.Data()[0])
	}
	tp.Backward(tp.Sum(y, false))
	if !errorsContain(tp.Err(), "link down") {
		t.Errorf("error %v does not name the cause", tp.Err())
	}
}

func errorsContain(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
