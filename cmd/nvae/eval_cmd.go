package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
	"github.com/nvae-go/nvae/tensorfile"
	"github.com/nvae-go/nvae/train"
)

func init() {
	register(&command{name: "eval", summary: "importance-weighted NLL and bits/dim of a checkpoint on test images; split across processes under mpirun", run: runEval, mpi: mpiAlways})
}

func runEval(args []string, stdout io.Writer) error {
	fs := newFlags("eval", "--checkpoint PATH [--num_iw_samples K] [--json]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	k := fs.Int("num_iw_samples", 1000, "importance samples per image (official evaluation: 1000)")
	src := fs.String("data", "embedded", "image reader, which files are read (the likelihood is the checkpoint's --dataset): "+joinNames(data.Names))
	dir := fs.String("data_dir", "", "directory (or archive) of the images")
	split := fs.String("split", "test", "split to evaluate: test or train")
	images := fs.String("images", "", "evaluate these preprocessed images instead: a safetensors file whose tensor \"x\" is [N,C,H,W] in [0,1] (U8 or F32)")
	batch := fs.Int("batch_size", 0, "images per forward pass (0: the checkpoint's training batch size)")
	maxImages := fs.Int("max_images", 0, "evaluate only the first N images (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the posterior samples and of the binarisation")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the evaluation to this file")
	var prec ad.Precision
	addPrecisionFlag(fs, &prec)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *k < 1 {
		return fmt.Errorf("--num_iw_samples must be at least 1, got %d", *k)
	}
	if *batch < 0 {
		return fmt.Errorf("--batch_size must be at least 1, or 0 for the checkpoint's training batch size, got %d", *batch)
	}
	if *maxImages < 0 {
		return fmt.Errorf("--max_images must be at least 1, or 0 for all, got %d", *maxImages)
	}
	m, _, err := modelfile.LoadWeights(*ckpt)
	if err != nil {
		return err
	}
	m.Precision = prec
	cfg := m.Cfg
	bs := *batch
	if bs <= 0 {
		bs = cfg.BatchSize
	}
	noise := model.NewSeededNoise(*seed)
	var source eval.Source
	total := 0 // images to evaluate
	if *images != "" {
		x, err := readImages(*images)
		if err != nil {
			return err
		}
		source = eval.TensorSource(shardRows(x, job.Rank(), job.Size()), bs)
		total = x.Dim(0)
	} else {
		if err := data.CheckSource(*src, cfg.Dataset, cfg.Binary(), cfg.ImageSize()); err != nil {
			return err
		}
		ds, err := data.OpenFor(*src, *dir, *split, cfg.ImageSize(), cfg.ImageChannels())
		if err != nil {
			return err
		}
		l, err := train.ShardedEvalLoader(ds, cfg.Dataset, cfg.NumXBits, bs, *seed, job.Rank(), job.Size())
		if err != nil {
			return err
		}
		defer l.Close()
		source = eval.LoaderSource(l)
		total = ds.N
	}
	if *maxImages > 0 {
		total = min(total, *maxImages)
	}
	// Under mpirun each rank evaluates its share of the images, and the results are
	// averaged over all of them; rank 0 shows the progress of its share.
	want := total
	ctx, stop := interruptContext()
	defer stop()
	progressOut := errOut
	if job.Rank() != 0 {
		progressOut = io.Discard // rank 0 speaks for the job
	}
	progress, done := evalProgress(progressOut, int64(train.EvalShare(total, job.Rank(), job.Size()))*int64(*k))
	stopProfile, err := startProfile(*profile)
	if err != nil {
		done()
		return err
	}
	r, err := train.EvalSharded(ctx, job, m, source, eval.Options{K: *k, MaxImages: *maxImages, Noise: noise, Progress: progress})
	stopProfile()
	done()
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	partial := ""
	if r.Partial {
		partial = fmt.Sprintf(" (partial: stopped after %d of %d images)", r.NumImages, want)
	}
	fmt.Fprintf(stdout, "%d images, %d importance samples: NLL %.3f nats (%.4f bits/dim), NELBO %.3f nats (%.4f bits/dim), D = %d%s\n",
		r.NumImages, r.NumIWSamples, r.NLLNats, r.BPD, r.NELBONats, r.BPDELBO, r.Dims, partial)
	return nil
}

// shardRows returns the images of x that rank of world evaluates: rows rank,
// rank+world, … (all of x for one process).
func shardRows(x *tensor.Tensor, rank, world int) *tensor.Tensor {
	if world <= 1 {
		return x
	}
	n := x.Shape()[0]
	per := x.Len() / max(n, 1)
	var rows []int
	for i := rank; i < n; i += world {
		rows = append(rows, i)
	}
	out := tensor.New(append([]int{len(rows)}, x.Shape()[1:]...)...)
	for j, i := range rows {
		copy(out.Data()[j*per:(j+1)*per], x.Data()[i*per:(i+1)*per])
	}
	return out
}

// evalProgress returns a progress callback for eval.NLL that draws a bar with the
// rate and ETA on stderr: in place on a terminal, otherwise a line every few seconds.
// w is where it goes, total the number of image forwards (images × samples); done
// ends the display.
func evalProgress(w io.Writer, total int64) (progress func(eval.Progress), done func()) {
	prog := report.NewProgress(w, total)
	if !prog.Terminal {
		prog.Interval = 5 * time.Second
	}
	prog.Format = func(s report.Stats) string { return "eval " + report.FormatBar(s, 30, "forwards") }
	start := time.Now()
	return func(p eval.Progress) {
		st := report.Stats{Step: p.Forwards, Total: total}
		if secs := time.Since(start).Seconds(); secs > 0 {
			st.ImagesPerSec = float64(p.Forwards) / secs
		}
		prog.Update(st)
	}, prog.Done
}

// interruptContext returns a context cancelled by the first Ctrl-C (or SIGTERM),
// after a note on stderr; a second one exits the process at once. stop undoes it.
func interruptContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(errOut, "\ninterrupted: stopping with the images done so far (interrupt again to quit at once)")
		cancel()
		select {
		case <-sigs:
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// readImages reads a tensor "x" [N,C,H,W] of preprocessed images in [0,1] from a
// safetensors file and returns it as NHWC.
func readImages(path string) (*tensor.Tensor, error) {
	f, err := tensorfile.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	x, ok := f.Lookup("x")
	if !ok {
		return nil, fmt.Errorf("%s: no tensor named \"x\" (have %v)", path, f.Names())
	}
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("%s: x has shape %v, want [N,C,H,W]", path, x.Shape)
	}
	for _, v := range x.Data {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%s: x holds %v, outside [0,1] (the images must be preprocessed)", path, v)
		}
	}
	return tensor.NCHWToNHWC(x.Tensor()), nil
}
