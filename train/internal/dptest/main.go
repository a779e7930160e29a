// Command dptest is the data-parallel test program of package train (train/dp_test.go
// runs it alone and under mpirun). Each rank trains a tiny model with train.NewFixed on
// its contiguous share of one fixed global batch, with noise that gives every image the
// same draws whatever rank holds it, so that a job of W ranks computes the step of one
// process on the whole batch. Rank 0 writes the losses, parameters and batch-norm
// running statistics after the steps as JSON.
//
//	dptest -out FILE [-steps N] [-batch G] [-fail_after K]
//
// With -fail_after K, rank 1's K-th float64 all-reduce (the synchronized batch norm's)
// fails, and the rank ends the job through comm.Fatal.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/nvae-go/nvae/comm"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
	"github.com/nvae-go/nvae/train"
)

// Result is what rank 0 writes.
type Result struct {
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

// shardNoise draws the latent noise of the whole global batch from one generator per
// call and hands this rank its rows; other draws (the spectral regulariser's vectors,
// 2-D) come from a generator shared by all ranks, as in a data-parallel run.
type shardNoise struct {
	shared        *model.SeededNoise
	calls         uint64
	global, first int // global batch, first row of this rank
}

func (n *shardNoise) Normal(shape ...int) *tensor.Tensor {
	if len(shape) != 4 {
		return n.shared.Normal(shape...)
	}
	n.calls++
	r := rand.New(rand.NewPCG(77, n.calls))
	per := shape[1] * shape[2] * shape[3]
	t := tensor.New(shape...)
	d := t.Data()
	for i := 0; i < n.global*per; i++ {
		v := float32(r.NormFloat64())
		if j := i - n.first*per; j >= 0 && j < len(d) {
			d[j] = v
		}
	}
	return t
}

// failingComm fails the after-th float64 all-reduce.
type failingComm struct {
	comm.Comm
	calls, after int
}

func (c *failingComm) AllReduceSumFloat64(buf []float64) error {
	c.calls++
	if c.calls == c.after {
		return errors.New("injected reduction failure")
	}
	return c.Comm.AllReduceSumFloat64(buf)
}

func main() {
	out := flag.String("out", "", "JSON file rank 0 writes")
	steps := flag.Int("steps", 2, "training steps")
	global := flag.Int("batch", 6, "global batch (divided among the ranks)")
	failAfter := flag.Int("fail_after", 0, "rank 1 fails its n-th float64 all-reduce (0: never)")
	flag.Parse()
	c, err := comm.FromEnv()
	if err != nil {
		comm.Fatal(nil, err)
	}
	if err := run(c, *out, *steps, *global, *failAfter); err != nil {
		comm.Fatal(c, err)
	}
	if err := c.Close(); err != nil {
		comm.Fatal(nil, err)
	}
	fmt.Printf("rank %d done\n", c.Rank())
}

func run(c comm.Comm, out string, steps, global, failAfter int) error {
	rank, world := c.Rank(), c.Size()
	if global%world != 0 {
		return fmt.Errorf("batch %d does not divide among %d ranks", global, world)
	}
	local := global / world
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		return err
	}
	cfg.BatchSize = local
	s := cfg.ImageSize()
	x := tensor.New(global, s, s, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data() {
		if r.Float32() < 0.3 {
			x.Data()[i] = 1
		}
	}
	per := s * s
	mine := tensor.New(local, s, s, 1)
	copy(mine.Data(), x.Data()[rank*local*per:(rank+1)*local*per])
	m, err := model.New(cfg, 4)
	if err != nil {
		return err
	}
	var cc comm.Comm = c
	if failAfter > 0 && rank == 1 {
		cc = &failingComm{Comm: c, after: failAfter}
	}
	res := Result{World: world, Params: map[string][]float32{}, Before: map[string][]float32{}}
	for _, p := range m.Params() {
		res.Before[p.Name] = append([]float32(nil), p.V.Data()...)
	}
	noise := &shardNoise{shared: model.NewSeededNoise(9), global: global, first: rank * local}
	tr, err := train.NewFixed(m, train.Fixed{Batch: mine, LR: 1e-2, KLCoeff: 1, NormCoeff: 1e-2, WeightDecay: 3e-4, Noise: noise, Comm: cc})
	if err != nil {
		return err
	}
	for i := 0; i < steps; i++ {
		sm, err := tr.StepOnce()
		if err != nil {
			return err
		}
		res.Losses, res.NELBOs = append(res.Losses, sm.Loss), append(res.NELBOs, sm.NELBO)
		res.GradB += tr.LastStepTimes().GradBytes
	}
	if rank != 0 {
		return nil
	}
	for _, p := range m.Params() {
		res.Params[p.Name] = p.V.Data()
	}
	for _, b := range m.BatchNorms() {
		res.RunMean, res.RunVar = append(res.RunMean, b.RunMean.Data()), append(res.RunVar, b.RunVar.Data())
		res.Batches = append(res.Batches, b.NumBatches)
	}
	j, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(out, j, 0o644)
}
