package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
	"github.com/nvae-go/nvae/train"
)

func init() {
	benchCommands["train"] = benchTrain
	benchCommands["sample"] = benchSample
}

// peakRSS returns the process's peak resident set size (VmHWM) and its current one
// (VmRSS) in bytes, read from /proc/self/status; zeros where that file is missing.
func peakRSS() (peak, cur int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"VmHWM:", "VmRSS:"} {
			if !strings.HasPrefix(line, k) {
				continue
			}
			fields := strings.Fields(line[len(k):])
			if len(fields) == 0 {
				continue
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				continue
			}
			if k == "VmHWM:" {
				peak = kb << 10
			} else {
				cur = kb << 10
			}
		}
	}
	return peak, cur
}

// benchInput is a batch of random images in the preset's format (binary for the
// Bernoulli datasets, 8-bit levels otherwise).
func benchInput(cfg model.Config, b int, r *rand.Rand) *tensor.Tensor {
	s := cfg.ImageSize()
	x := tensor.New(b, s, s, cfg.ImageChannels())
	for i := range x.Data() {
		if cfg.Binary() {
			if r.Float32() < 0.3 {
				x.Data()[i] = 1
			}
		} else {
			x.Data()[i] = float32(r.IntN(256)) / 255
		}
	}
	return x
}

func benchTrain(args []string, stdout io.Writer) error {
	fs := newFlags("bench train", "[--preset NAME] [--batch_size B] [--steps N] [--warmup W] [--recompute_cells] [--precision fp32|bf16] [--json] [official flags…]")
	preset := fs.String("preset", "mnist", "model configuration: "+joinNames(model.PresetNames()))
	steps := fs.Int("steps", 3, "timed training steps")
	warmup := fs.Int("warmup", 1, "untimed training steps first (the first one also draws the spectral state and runs 10× its iterations)")
	var recompute bool
	addRecomputeCellsFlag(fs, &recompute)
	var prec ad.Precision
	addPrecisionFlag(fs, &prec)
	klCoeff := fs.Float64("kl_coeff", 0.5, "KL warm-up coefficient β of the timed steps (KL balancing runs while β < 1)")
	peakSecs := fs.Float64("peak_seconds", 0.5, "seconds spent measuring the machine's FMA peak (0: skip)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	cf := addConfigFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	cfg, err := cf.config(*preset)
	if err != nil {
		return err
	}
	if *steps < 1 || *warmup < 0 {
		return fmt.Errorf("bench train: want --steps ≥ 1 and --warmup ≥ 0, got %d and %d", *steps, *warmup)
	}
	m, err := model.New(cfg, uint64(cfg.Seed))
	if err != nil {
		return fmt.Errorf("bench train: building the model: %w", err)
	}
	m.RecomputeCells = recompute
	m.Precision = prec
	// Under mpirun every rank trains on its own batch of --batch_size (data-parallel).
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 7+uint64(job.Rank())))
	tr, err := train.NewFixed(m, train.Fixed{Batch: benchInput(cfg, cfg.BatchSize, rng), LR: cfg.LearningRate,
		KLCoeff: *klCoeff, NormCoeff: cfg.WeightDecayNorm, WeightDecay: cfg.WeightDecay, Seed: uint64(cfg.Seed), Comm: job})
	if err != nil {
		return fmt.Errorf("bench train: %w", err)
	}
	type phase struct{ fwd, bwd, opt, comm time.Duration }
	step := func() (phase, float32, error) {
		sm, err := tr.StepOnce()
		st := tr.LastStepTimes()
		return phase{st.Forward, st.Backward, st.Update, st.Comm}, float32(sm.Loss), err
	}
	for i := 0; i < *warmup; i++ {
		if _, _, err := step(); err != nil {
			return fmt.Errorf("bench train: %w", err)
		}
	}
	_, rssBefore := peakRSS()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	f0 := ad.FLOPs()
	var tot phase
	var loss float32
	stopProfile, err := startProfile(*profile)
	if err != nil {
		return fmt.Errorf("bench train: %w", err)
	}
	cs0 := tr.CommStats()
	cpu0 := processCPU()
	start := time.Now()
	for i := 0; i < *steps; i++ {
		ph, l, err := step()
		if err != nil {
			return fmt.Errorf("bench train: %w", err)
		}
		tot.fwd += ph.fwd
		tot.bwd += ph.bwd
		tot.opt += ph.opt
		tot.comm += ph.comm
		loss = l
	}
	wall := time.Since(start).Seconds()
	cs1 := tr.CommStats()
	cpuS := (processCPU() - cpu0).Seconds()
	stopProfile()
	runtime.ReadMemStats(&ms1)
	peak, rssAfter := peakRSS()
	n := float64(*steps)
	stepS := wall / n
	gflop := float64(ad.FLOPs()-f0) / n / 1e9
	res := map[string]any{
		"preset": *preset, "batch_size": cfg.BatchSize, "steps": *steps, "warmup": *warmup,
		"params": m.NumParams(), "threads": cpu.Workers(), "recompute_cells": recompute, "precision": prec.String(),
		"step_s": stepS, "images_per_s": float64(cfg.BatchSize) / stepS,
		"forward_s": tot.fwd.Seconds() / n, "backward_s": tot.bwd.Seconds() / n, "optimizer_s": tot.opt.Seconds() / n,
		"peak_rss_bytes": peak, "rss_before_bytes": rssBefore, "rss_after_bytes": rssAfter,
		"allocs_per_step":      float64(ms1.Mallocs-ms0.Mallocs) / n,
		"bytes_alloc_per_step": float64(ms1.TotalAlloc-ms0.TotalAlloc) / n,
		"gflop_per_step":       gflop, "gflops": gflop / stepS, "loss": loss,
		"cpu_s_per_step": cpuS / n,
		"processes":      job.Size(), "global_batch": cfg.BatchSize * job.Size(),
		"global_images_per_s": float64(cfg.BatchSize*job.Size()) / stepS,
	}
	var paramBytes int64
	for _, p := range m.Params() {
		paramBytes += int64(4 * p.V.Value.Len())
	}
	res["param_bytes"] = paramBytes
	if job.Size() > 1 {
		res["comm_s_per_step"] = tot.comm.Seconds() / n
		res["comm_fraction"] = tot.comm.Seconds() / wall
		res["grad_bytes_allreduced_per_step"] = float64(cs1.GradBytes-cs0.GradBytes) / n
		res["stat_bytes_allreduced_per_step"] = float64(cs1.StatBytes-cs0.StatBytes) / n
		res["collectives_per_step"] = float64(cs1.Calls-cs0.Calls) / n
	}
	if *peakSecs > 0 {
		pk := cpu.PeakGFLOPS(time.Duration(*peakSecs * float64(time.Second)))
		res["peak_gflops"] = pk
		res["fraction_of_peak"] = gflop / stepS / pk
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "training step, preset %s, batch %d, %d params, %d threads, recompute_cells=%v, precision %v\n",
		*preset, cfg.BatchSize, m.NumParams(), cpu.Workers(), recompute, prec)
	if job.Size() > 1 {
		fmt.Fprintf(stdout, "  data-parallel: %d processes × batch %d = global batch %d, %.2f images/s in all\n",
			job.Size(), cfg.BatchSize, cfg.BatchSize*job.Size(), res["global_images_per_s"])
		fmt.Fprintf(stdout, "  communication %.3f s per step (%.1f%% of the step, %.0f collectives); all-reduced per step: gradients %.0f bytes (parameters: %d bytes), BN statistics and logged values %.0f bytes\n",
			res["comm_s_per_step"], 100*res["comm_fraction"].(float64), res["collectives_per_step"],
			res["grad_bytes_allreduced_per_step"], paramBytes, res["stat_bytes_allreduced_per_step"])
	}
	fmt.Fprintf(stdout, "  step %.3f s (%.2f images/s): forward+loss %.3f s, backward %.3f s, optimizer %.3f s; %.3f CPU s per step\n",
		stepS, float64(cfg.BatchSize)/stepS, tot.fwd.Seconds()/n, tot.bwd.Seconds()/n, tot.opt.Seconds()/n, cpuS/n)
	fmt.Fprintf(stdout, "  conv/linear work %.1f GFLOP/step, %.1f GFLOP/s", gflop, gflop/stepS)
	if v, ok := res["fraction_of_peak"]; ok {
		fmt.Fprintf(stdout, " (%.0f%% of the %.0f GFLOP/s FMA peak)", 100*v.(float64), res["peak_gflops"])
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "  peak RSS %.2f GB, RSS before/after timed steps %.2f/%.2f GB\n",
		float64(peak)/1e9, float64(rssBefore)/1e9, float64(rssAfter)/1e9)
	fmt.Fprintf(stdout, "  %.0f allocations, %.1f MB allocated per step\n",
		res["allocs_per_step"], res["bytes_alloc_per_step"].(float64)/1e6)
	return nil
}

func benchSample(args []string, stdout io.Writer) error {
	fs := newFlags("bench sample", "[--preset NAME | --checkpoint PATH] [--n N] [--temp T] [--reps R] [--precision fp32|bf16] [--json] [official flags…]")
	preset := fs.String("preset", "mnist", "model configuration (random initialisation): "+joinNames(model.PresetNames()))
	ckpt := fs.String("checkpoint", "", "sample from this training checkpoint (file or run directory) instead of a random model")
	num := fs.Int("n", 36, "images per Sample call")
	temp := fs.Float64("temp", 1, "latent temperature")
	reps := fs.Int("reps", 3, "timed Sample calls (after one untimed call)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed calls to this file")
	var prec ad.Precision
	addPrecisionFlag(fs, &prec)
	cf := addConfigFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *reps < 1 {
		return fmt.Errorf("bench sample: want --reps ≥ 1, got %d", *reps)
	}
	m, err := benchModel("bench sample", *ckpt, *preset, cf)
	if err != nil {
		return err
	}
	m.Precision = prec
	rng := rand.New(rand.NewPCG(1, 9))
	noise := model.RandNoise{R: rng}
	draw := func() error {
		_, err := eval.Sample(m, *num, float32(*temp), eval.PixelDefault, noise, rng)
		return err
	}
	if err := draw(); err != nil {
		return fmt.Errorf("bench sample: %w", err)
	}
	stopProfile, err := startProfile(*profile)
	if err != nil {
		return fmt.Errorf("bench sample: %w", err)
	}
	f0 := ad.FLOPs()
	cpu0 := processCPU()
	start := time.Now()
	for i := 0; i < *reps; i++ {
		if err := draw(); err != nil {
			return fmt.Errorf("bench sample: %w", err)
		}
	}
	secs := time.Since(start).Seconds() / float64(*reps)
	cpuS := (processCPU() - cpu0).Seconds() / float64(*reps)
	stopProfile()
	gflop := float64(ad.FLOPs()-f0) / float64(*reps) / 1e9
	peak, _ := peakRSS()
	res := map[string]any{"n": *num, "temp": *temp, "reps": *reps, "params": m.NumParams(), "threads": cpu.Workers(),
		"sample_s": secs, "cpu_s_per_call": cpuS, "images_per_s": float64(*num) / secs, "gflop_per_call": gflop, "peak_rss_bytes": peak}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "sampling %d images at t=%g, %d params, %d threads: %.3f s per call (%.1f images/s, %.2f GFLOP), peak RSS %.2f GB\n",
		*num, *temp, m.NumParams(), cpu.Workers(), secs, float64(*num)/secs, gflop, float64(peak)/1e9)
	return nil
}

// startProfile starts a CPU profile written to path (nothing when path is empty);
// stop ends it and closes the file.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
