package train

import (
	"context"
	"fmt"
	"time"

	"github.com/nvae-go/nvae/comm"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
)

// Data-parallel training (docs in README, "Training on several processes"): every
// process (rank) of an MPI job holds the same model and trains on its own shard of every
// batch, as the official train.py does:
//
//   - the parameters are broadcast from rank 0 when training starts, and averaged at the
//     start of every epoch and every AverageParamsEvery batches within it;
//   - the loader reads the rank's DistributedSampler shard (data.LoaderConfig Rank/World);
//   - batch norm is synchronized (model.SetStatReducer), and so is the data-dependent
//     initialisation;
//   - each rank's loss is its local batch's (KL balancing included); the gradients are
//     summed over the ranks in a few large buckets and divided by the world size before
//     the optimizer step, so every rank applies the same update;
//   - the logged losses and the evaluations are averaged over the ranks, and only rank 0
//     writes files.

// AverageParamsEvery is the official period, in batches within an epoch, of the
// parameter averaging (train.py: step % 100 == 0, which includes each epoch's start).
const AverageParamsEvery = 100

// BucketBytes is the size the gradient all-reduce aims at per call: the gradients are
// copied into buckets of about this many bytes (whole tensors; a larger tensor is a
// bucket of its own), so a step makes a few large reductions instead of one per tensor.
const BucketBytes = 4 << 20

// CommStats accumulate what a trainer's collectives cost.
type CommStats struct {
	// Time is the wall time spent in collective calls (including waiting for the other
	// ranks to reach them).
	Time time.Duration
	// Calls counts the collective calls.
	Calls int
	// GradBytes counts the bytes of gradients all-reduced; StatBytes those of the
	// batch-norm statistics and the logged values; ParamBytes those of the parameter
	// broadcasts and averages.
	GradBytes, StatBytes, ParamBytes int64
}

// statComm is the dp's comm.Comm for the float64 all-reduces (batch-norm statistics,
// logged values): it accounts their time and bytes (StatBytes), and issues nothing
// after a failed collective.
type statComm struct {
	comm.Comm
	d *dp
}

func (c statComm) AllReduceSumFloat64(buf []float64) error {
	if c.d.err != nil {
		return c.d.err
	}
	t := time.Now()
	err := c.Comm.AllReduceSumFloat64(buf)
	c.d.stats.Time += time.Since(t)
	c.d.stats.Calls++
	c.d.stats.StatBytes += int64(8 * len(buf))
	c.d.err = err
	return err
}

// buckets splits tensors of the given lengths, in order, into runs [lo, hi) of about
// BucketBytes each.
func buckets(lens []int, bytes int) [][2]int {
	var out [][2]int
	lo, n := 0, 0
	for i, l := range lens {
		if n > 0 && 4*(n+l) > bytes {
			out = append(out, [2]int{lo, i})
			lo, n = i, 0
		}
		n += l
	}
	if lo < len(lens) {
		out = append(out, [2]int{lo, len(lens)})
	}
	return out
}

// dp is the data-parallel state of a trainer of more than one rank.
type dp struct {
	c     comm.Comm
	stats CommStats
	// err is the first failed collective's error. After it the ranks' collectives no
	// longer pair up, so none is issued: the rank reports the error and ends the job.
	err     error
	buckets [][2]int
	buf     []float32
}

// newDP returns the data-parallel state of a trainer whose parameters have lens.
func newDP(c comm.Comm, lens []int) *dp {
	d := &dp{c: c, buckets: buckets(lens, BucketBytes)}
	most := 0
	for _, b := range d.buckets {
		n := 0
		for _, l := range lens[b[0]:b[1]] {
			n += l
		}
		most = max(most, n)
	}
	d.buf = make([]float32, most)
	return d
}

// reducer is the batch norms' statistics reducer, accounted in d.stats.
func (d *dp) reducer() statComm { return statComm{Comm: d.c, d: d} }

// bucketed applies op to the tensors ts bucket by bucket: each bucket's tensors are
// copied into one buffer, op transforms it, and the buffer is copied back.
func (d *dp) bucketed(ts [][]float32, op func(buf []float32) error) error {
	for _, b := range d.buckets {
		n := 0
		for _, t := range ts[b[0]:b[1]] {
			n += copy(d.buf[n:], t)
		}
		if err := op(d.buf[:n]); err != nil {
			return err
		}
		n = 0
		for _, t := range ts[b[0]:b[1]] {
			n += copy(t, d.buf[n:])
		}
	}
	return nil
}

// timed runs f, accounting its time and bytes×4 into *counter.
func (d *dp) timed(counter *int64, ts [][]float32, op func(buf []float32) error) error {
	if d.err != nil {
		return d.err
	}
	t := time.Now()
	d.err = d.bucketed(ts, func(buf []float32) error {
		d.stats.Calls++
		*counter += int64(4 * len(buf))
		return op(buf)
	})
	d.stats.Time += time.Since(t)
	return d.err
}

// averageGrads replaces every gradient by its mean over the ranks.
func (d *dp) averageGrads(grads [][]float32) error {
	if err := d.timed(&d.stats.GradBytes, grads, func(buf []float32) error { return comm.AverageFloat32(d.c, buf) }); err != nil {
		return fmt.Errorf("averaging the gradients across ranks: %w", err)
	}
	return nil
}

// averageParams replaces every parameter by its mean over the ranks (the official
// average_params).
func (d *dp) averageParams(params [][]float32) error {
	if err := d.timed(&d.stats.ParamBytes, params, func(buf []float32) error { return comm.AverageFloat32(d.c, buf) }); err != nil {
		return fmt.Errorf("averaging the parameters across ranks: %w", err)
	}
	return nil
}

// broadcastParams copies rank 0's parameters to every rank.
func (d *dp) broadcastParams(params [][]float32) error {
	if err := d.timed(&d.stats.ParamBytes, params, func(buf []float32) error { return d.c.BroadcastFloat32(buf, 0) }); err != nil {
		return fmt.Errorf("broadcasting the parameters from rank 0: %w", err)
	}
	return nil
}

// average replaces the values by their means over the ranks.
func (d *dp) average(v []float64) error {
	if err := comm.AverageFloat64(d.reducer(), v); err != nil {
		return fmt.Errorf("averaging the logged values across ranks: %w", err)
	}
	return nil
}

// CombineEval merges the evaluation results of the ranks of c, each on its own share of
// the images, into the result of the whole: the bounds are averaged weighted by the
// images each rank evaluated, so the result is the mean over all images, and NumImages
// is their total. Every rank gets the same result. With one rank it returns r.
func CombineEval(c comm.Comm, r eval.Result) (eval.Result, error) {
	if c == nil || c.Size() == 1 {
		return r, nil
	}
	n := float64(r.NumImages)
	partial := 0.0
	if r.Partial {
		partial = 1
	}
	v := []float64{r.NLLNats * n, r.NELBONats * n, r.BPD * n, r.BPDELBO * n, n, partial}
	if err := c.AllReduceSumFloat64(v); err != nil {
		return r, fmt.Errorf("combining the evaluations of the ranks: %w", err)
	}
	if v[4] == 0 {
		return r, fmt.Errorf("combining the evaluations of the ranks: no rank evaluated an image")
	}
	r.NLLNats, r.NELBONats, r.BPD, r.BPDELBO, r.NumImages = v[0]/v[4], v[1]/v[4], v[2]/v[4], v[3]/v[4], int(v[4])
	r.Partial = v[5] > 0 // a rank stopped early
	return r, nil
}

// EvalShare returns the share of an evaluation of maxImages images (0: all) that rank
// rank of world evaluates: the per-rank image cap (0: its whole shard). Rank r reads
// the images r, r+world, r+2·world, … (data.Shard without shuffling), so the ranks
// together evaluate the first maxImages images when world divides maxImages.
func EvalShare(maxImages, rank, world int) int {
	if maxImages <= 0 || world <= 1 {
		return maxImages
	}
	return max((maxImages-rank+world-1)/world, 0)
}

// ShardedEvalLoader is data.EvalLoader reading rank's shard of ds (DistributedSampler
// order without shuffling, padded to a multiple of world with the first images).
func ShardedEvalLoader(ds *data.Dataset, dataset string, numBits, batch int, seed uint64, rank, world int) (*data.Loader, error) {
	if world <= 1 {
		return data.EvalLoader(ds, dataset, numBits, batch, seed)
	}
	tr, err := data.TransformFor(ds, dataset, false, numBits)
	if err != nil {
		return nil, err
	}
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Seed: seed, Transform: tr, Rank: rank, World: world})
}

// EvalSharded evaluates this rank's share of an evaluation of o.MaxImages images (0:
// all) with eval.NLL, src yielding the rank's shard (ShardedEvalLoader), and combines
// the ranks' results with CombineEval. Every rank of c must call it.
func EvalSharded(ctx context.Context, c comm.Comm, m *model.Model, src eval.Source, o eval.Options) (eval.Result, error) {
	rank, world := 0, 1
	if c != nil {
		rank, world = c.Rank(), c.Size()
	}
	maxImages := o.MaxImages
	o.MaxImages = EvalShare(maxImages, rank, world)
	r := eval.Result{NumIWSamples: o.K, Dims: eval.Dims(m.Cfg)}
	if o.MaxImages > 0 || maxImages <= 0 {
		var err error
		if r, err = eval.NLL(ctx, m, src, o); err != nil {
			return r, err
		}
	}
	return CombineEval(c, r)
}
