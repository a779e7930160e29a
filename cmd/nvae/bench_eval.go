package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
)

func init() {
	benchCommands["eval"] = benchEval
}

// benchEval times the importance-weighted evaluation (eval.NLL) on random images in the
// model's format: images/s, image forwards/s (one image under one importance sample),
// CPU seconds and peak RSS.
func benchEval(args []string, stdout io.Writer) error {
	fs := newFlags("bench eval", "[--preset NAME | --checkpoint PATH] [--batch_size B] [--num_iw_samples K] [--images N] [--json] [official flags…]")
	preset := fs.String("preset", "mnist", "model configuration (random initialisation): "+joinNames(model.PresetNames()))
	ckpt := fs.String("checkpoint", "", "evaluate this training checkpoint (file or run directory) instead of a random model")
	batch := fs.Int("batch_size", 32, "images per evaluation batch")
	k := fs.Int("num_iw_samples", 10, "importance samples per image")
	images := fs.Int("images", 0, "timed images (0: two batches)")
	budget := fs.Int64("memory_mb", 0, "working set of one forward pass in MB (0: eval.DefaultMemoryBudget)")
	parts := fs.Int("parts", 0, "images of a batch evaluated at the same time as separate parts, each with serial engine loops (0: one per core; 1: the whole batch with parallel loops)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed evaluation to this file")
	cf := addConfigFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *parts < 0 {
		return fmt.Errorf("bench eval: --parts must be ≥ 0, got %d", *parts)
	}
	if *batch < 1 || *k < 1 || *images < 0 {
		return fmt.Errorf("bench eval: want --batch_size ≥ 1, --num_iw_samples ≥ 1 and --images ≥ 0, got %d, %d and %d", *batch, *k, *images)
	}
	m, err := benchModel("bench eval", *ckpt, *preset, cf)
	if err != nil {
		return err
	}
	n := *images
	if n == 0 {
		n = 2 * *batch
	}
	rng := rand.New(rand.NewPCG(uint64(m.Cfg.Seed), 11))
	x := benchInput(m.Cfg, n, rng)
	noise := model.RandNoise{R: rng}
	run := func(imgs int) (eval.Result, error) {
		return eval.NLL(context.Background(), m, eval.TensorSource(x, *batch), eval.Options{K: *k, MaxImages: imgs, Noise: noise, MemoryBudget: *budget << 20, Workers: *parts})
	}
	// one untimed batch: first-use allocations of the buffer pool
	if _, err := run(min(*batch, n)); err != nil {
		return fmt.Errorf("bench eval: %w", err)
	}
	stopProfile, err := startProfile(*profile)
	if err != nil {
		return fmt.Errorf("bench eval: %w", err)
	}
	f0 := ad.FLOPs()
	cpu0 := processCPU()
	start := time.Now()
	r, err := run(n)
	secs := time.Since(start).Seconds()
	cpuS := (processCPU() - cpu0).Seconds()
	stopProfile()
	if err != nil {
		return fmt.Errorf("bench eval: %w", err)
	}
	gflop := float64(ad.FLOPs()-f0) / 1e9
	peak, _ := peakRSS()
	fwd := float64(n * *k)
	res := map[string]any{"preset": *preset, "checkpoint": *ckpt, "batch_size": *batch, "num_iw_samples": *k, "images": n,
		"params": m.NumParams(), "threads": cpu.Workers(), "seconds": secs, "cpu_seconds": cpuS,
		"images_per_s": float64(n) / secs, "forwards_per_s": fwd / secs, "cpu_s_per_image": cpuS / float64(n),
		"gflop": gflop, "gflops": gflop / secs, "peak_rss_bytes": peak, "nll_nats": r.NLLNats, "parts": *parts}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "evaluation (K=%d, batch %d), %d params, %d threads: %d images in %.2f s\n",
		*k, *batch, m.NumParams(), cpu.Workers(), n, secs)
	fmt.Fprintf(stdout, "  %.2f images/s, %.1f image forwards/s, %.3f CPU s per image, %.1f GFLOP/s, peak RSS %.2f GB\n",
		float64(n)/secs, fwd/secs, cpuS/float64(n), gflop/secs, float64(peak)/1e9)
	return nil
}

// benchModel is the model a benchmark runs: the checkpoint's weights when ckpt is
// set, else a random model of the preset with the official flags applied.
func benchModel(cmd, ckpt, preset string, cf *configFlags) (*model.Model, error) {
	if ckpt != "" {
		m, _, err := modelfile.LoadWeights(ckpt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		return m, nil
	}
	cfg, err := cf.config(preset)
	if err != nil {
		return nil, err
	}
	m, err := model.New(cfg, uint64(cfg.Seed))
	if err != nil {
		return nil, fmt.Errorf("%s: building the model: %w", cmd, err)
	}
	return m, nil
}
