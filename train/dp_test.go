package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/comm"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/internal/testutil"
)

// dpResult is what internal/dptest writes (its Result).
type dpResult struct {
	World   int                  `json:"world"`
	Losses  []float64            `json:"losses"`
	NELBOs  []float64            `json:"nelbos"`
	Params  map[string][]float32 `json:"params"`
	Before  map[string][]float32 `json:"before"`
	RunMean [][]float32          `json:"run_mean"`
	RunVar  [][]float32          `json:"run_var"`
	Batches []int64              `json:"num_batches"`
	GradB   int64                `json:"grad_bytes"`
}

func readDP(t *testing.T, path string) dpResult {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r dpResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDataParallelStepMatchesOneProcess is the proof of the data-parallel semantics:
// two training steps of `mpirun -np 2` on the two halves of a global batch of 6 (tiny_mnist, KL
// balancing off: β = 1) give the losses, the updated parameters and the batch-norm
// running statistics of one process on the whole batch. The noise gives every image
// the same draws on whichever rank holds it, so the only differences left are float32
// summation order (the gradient is the mean of two half-batch means, batch-norm sums
// are added per rank then across ranks). Tolerances, against updates of about
// lr = 1e-2 per step: losses within 1e-6 relative, parameters within 1e-4 absolute,
// running statistics within 1e-4·(|v| + 1e-2). It also checks that the gradient
// all-reduce moves exactly the parameter bytes per step.
func TestDataParallelStepMatchesOneProcess(t *testing.T) {
	testutil.NeedMPI(t)
	prog := testutil.Build(t, "./internal/dptest")
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.json"), filepath.Join(dir, "two.json")
	ctx, cancel := context.WithTimeout(context.Background(), testutil.MPITimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, prog, "-out", one).CombinedOutput(); err != nil {
		t.Fatalf("dptest alone: %v\n%s", err, out)
	}
	if out, err := testutil.RunMPI(t, 2, nil, prog, "-out", two); err != nil {
		t.Fatalf("mpirun -np 2 dptest: %v\n%s", err, out)
	}
	a, b := readDP(t, one), readDP(t, two)
	if a.World != 1 || b.World != 2 {
		t.Fatalf("world sizes %d and %d, want 1 and 2", a.World, b.World)
	}
	for i := range a.Losses {
		if d := math.Abs(a.Losses[i]-b.Losses[i]) / math.Abs(a.Losses[i]); !(d <= 1e-6) {
			t.Errorf("step %d: loss %v on 2 ranks, %v on one process (relative difference %.2g)", i, b.Losses[i], a.Losses[i], d)
		}
		if d := math.Abs(a.NELBOs[i]-b.NELBOs[i]) / math.Abs(a.NELBOs[i]); !(d <= 1e-6) {
			t.Errorf("step %d: NELBO %v on 2 ranks, %v on one process", i, b.NELBOs[i], a.NELBOs[i])
		}
	}
	var worst, moved float64
	nParams := 0
	for name, pa := range a.Params {
		pb := b.Params[name]
		if len(pb) != len(pa) {
			t.Fatalf("parameter %s has %d values on 2 ranks, %d on one", name, len(pb), len(pa))
		}
		nParams += len(pa)
		for j := range pa {
			worst = max(worst, math.Abs(float64(pa[j]-pb[j])))
			moved = max(moved, math.Abs(float64(pa[j]-a.Before[name][j])))
		}
	}
	t.Logf("%d parameters: largest difference %.3g, largest update %.3g", nParams, worst, moved)
	if !(worst <= 1e-4) {
		t.Errorf("parameters differ by up to %.3g between 2 ranks and one process (tolerance 1e-4)", worst)
	}
	if moved < 1e-2 {
		t.Errorf("the steps moved the parameters by at most %.3g: the comparison proves nothing", moved)
	}
	var worstStat float64
	for i := range a.RunMean {
		for _, pair := range [][2][]float32{{a.RunMean[i], b.RunMean[i]}, {a.RunVar[i], b.RunVar[i]}} {
			for j, v := range pair[0] {
				d := math.Abs(float64(v - pair[1][j]))
				worstStat = max(worstStat, d/(math.Abs(float64(v))+1e-2))
			}
		}
	}
	t.Logf("running statistics: largest scaled difference %.3g", worstStat)
	if !(worstStat <= 1e-4) {
		t.Errorf("batch-norm running statistics differ by up to %.3g·(|v|+1e-2) (tolerance 1e-4)", worstStat)
	}
	if !slices.Equal(a.Batches, b.Batches) {
		t.Errorf("batch-norm batch counters %v on 2 ranks, %v on one process", b.Batches, a.Batches)
	}
	if want := int64(4 * nParams * len(a.Losses)); b.GradB != want || a.GradB != 0 {
		t.Errorf("gradient bytes all-reduced: %d on 2 ranks (want %d, the parameter bytes per step), %d alone (want 0)", b.GradB, want, a.GradB)
	}
}

// TestDataParallelRankFailure checks that a rank whose collective fails in the middle
// of a step ends the whole job, with a message naming it, instead of leaving rank 0
// waiting: rank 1's third batch-norm reduction fails.
func TestDataParallelRankFailure(t *testing.T) {
	testutil.NeedMPI(t)
	prog := testutil.Build(t, "./internal/dptest")
	out, err := testutil.RunMPI(t, 2, nil, prog, "-out", filepath.Join(t.TempDir(), "r.json"), "-fail_after", "3")
	if err == nil {
		t.Fatalf("the job with a failing rank exited 0:\n%s", out)
	}
	if !strings.Contains(out, "rank 1: training step 0: ") || !strings.Contains(out, "injected reduction failure") {
		t.Fatalf("the output does not name rank 1 and its error:\n%s", out)
	}
	if strings.Contains(out, "rank 0 done") {
		t.Fatalf("rank 0 finished although rank 1 failed:\n%s", out)
	}
}

// TestBuckets checks the gradient buckets: whole tensors, in order, each bucket at most
// the byte budget unless it holds one larger tensor, and every tensor in one bucket.
func TestBuckets(t *testing.T) {
	for _, c := range []struct {
		lens  []int
		bytes int
		want  [][2]int
	}{
		{[]int{10, 10, 10}, 80, [][2]int{{0, 2}, {2, 3}}},
		{[]int{10, 10, 10}, 1000, [][2]int{{0, 3}}},
		{[]int{100, 1, 1}, 8, [][2]int{{0, 1}, {1, 3}}},
		{[]int{1, 100, 1}, 8, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
		{nil, 8, nil},
	} {
		if got := buckets(c.lens, c.bytes); !slices.Equal(got, c.want) {
			t.Errorf("buckets(%v, %d) = %v, want %v", c.lens, c.bytes, got, c.want)
		}
	}
}

// TestEvalShare checks that the ranks' shares of an evaluation add up to the whole and
// are the images rank r, r+W, … of the first maxImages.
func TestEvalShare(t *testing.T) {
	for _, c := range []struct{ max, world int }{{10, 2}, {11, 2}, {7, 3}, {1, 4}, {0, 2}, {5, 1}} {
		total := 0
		for r := 0; r < c.world; r++ {
			n := EvalShare(c.max, r, c.world)
			want := 0
			for i := r; i < c.max; i += c.world {
				want++
			}
			if c.max == 0 || c.world == 1 {
				want = c.max
			}
			if n != want {
				t.Errorf("EvalShare(%d, %d, %d) = %d, want %d", c.max, r, c.world, n, want)
			}
			total += n
		}
		if c.world > 1 && c.max > 0 && total != c.max {
			t.Errorf("shares of %d over %d ranks add up to %d", c.max, c.world, total)
		}
	}
}

// pairComm is rank 0 of a two-rank job whose other rank holds fixed values: its
// all-reduce adds them.
type pairComm struct {
	comm.Comm
	other []float64
}

func (p pairComm) Size() int { return 2 }
func (p pairComm) AllReduceSumFloat64(buf []float64) error {
	for i := range buf {
		buf[i] += p.other[i]
	}
	return nil
}

// TestCombineEval checks that the ranks' evaluations combine into the mean over all
// their images, weighted by the images each evaluated.
func TestCombineEval(t *testing.T) {
	r0 := eval.Result{NLLNats: 100, NELBONats: 110, BPD: 1, BPDELBO: 1.1, NumImages: 3, NumIWSamples: 5, Dims: 784}
	// the other rank: 1 image with NLL 200, NELBO 210, bpd 2, 2.1, complete (not partial)
	c := pairComm{Comm: comm.Single(), other: []float64{200, 210, 2, 2.1, 1, 0}}
	got, err := CombineEval(c, r0)
	if err != nil {
		t.Fatal(err)
	}
	want := eval.Result{NLLNats: 125, NELBONats: 135, BPD: 1.25, BPDELBO: 1.35, NumImages: 4, NumIWSamples: 5, Dims: 784}
	for _, p := range [][2]float64{{got.NLLNats, want.NLLNats}, {got.NELBONats, want.NELBONats}, {got.BPD, want.BPD}, {got.BPDELBO, want.BPDELBO}} {
		if math.Abs(p[0]-p[1]) > 1e-12 {
			t.Fatalf("combined %+v, want %+v", got, want)
		}
	}
	if got.NumImages != 4 || got.NumIWSamples != 5 || got.Partial {
		t.Fatalf("combined %+v, want %+v", got, want)
	}
	// one rank stopped early (Ctrl-C): the combined result is partial
	c.other = []float64{200, 210, 2, 2.1, 1, 1}
	if got, err := CombineEval(c, r0); err != nil || !got.Partial {
		t.Fatalf("with a partial rank: %+v, %v; want a partial result", got, err)
	}
	if same, err := CombineEval(comm.Single(), r0); err != nil || same != r0 {
		t.Fatalf("one rank: %+v, %v; want the result unchanged", same, err)
	}
}
