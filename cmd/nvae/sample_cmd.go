package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/internal/runlock"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

func init() {
	register(&command{name: "sample", summary: "draw images from a checkpoint into a PNG grid (temperature, BN re-adjustment; synchronized under mpirun)", run: runSample,
		mpi: readjusts})
	register(&command{name: "recon", summary: "reconstruct test images with a checkpoint into a PNG grid (inputs | outputs)", run: runRecon})
}

// sampleBatch and reconBatch do one generative or reconstruction pass; tests wrap
// them to see the batch sizes that reach the model.
var (
	sampleBatch = eval.Sample
	reconBatch  = eval.Reconstruct
)

func pixelMode(s string) (eval.PixelMode, error) {
	switch s {
	case "default":
		return eval.PixelDefault, nil
	case "mean":
		return eval.PixelMean, nil
	case "sample_t":
		return eval.PixelSampleT, nil
	}
	return 0, fmt.Errorf("--pixels: want default, mean or sample_t, got %q", s)
}

// readjusts reports whether sample's arguments ask for --readjust_bn, the part of
// sample that runs under mpirun (synchronized statistics over every rank's passes).
func readjusts(args []string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == "readjust_bn" || a == "readjust_bn=true" || a == "readjust_bn=1" {
			return true
		}
	}
	return false
}

func runSample(args []string, stdout io.Writer) error {
	fs := newFlags("sample", "--checkpoint PATH [--n N] [--temp T] [--out FILE.png] [--readjust_bn] [--precision fp32|bf16]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	n := fs.Int("n", 16, "number of images")
	batch := fs.Int("batch_size", 64, "images per generative pass: memory is that of one batch, whatever --n")
	temp := fs.Float64("temp", 0.7, "latent temperature (scales every latent σ)")
	out := fs.String("out", "samples.png", "image file to write: .png, or .jpg/.jpeg for JPEG")
	nrow := fs.Int("nrow", 0, "images per grid row (0: square)")
	readjust := fs.Bool("readjust_bn", false, "re-estimate the decoder's BN statistics at this temperature first (official: 500 passes of 16)")
	iters := fs.Int("readjust_iters", 500, "generative passes for --readjust_bn")
	rbatch := fs.Int("readjust_batch", 16, "batch size of the --readjust_bn passes")
	saveBN := fs.Bool("save_bn", false, "with --readjust_bn, write the re-adjusted statistics back into the checkpoint (a .safetensors file) so later sampling reuses them")
	pixels := fs.String("pixels", "default", "how images are made from the decoder: default (Bernoulli mean, DML sample at t=1, as evaluate.py), mean, sample_t")
	seed := fs.Uint64("seed", 1, "random seed")
	var prec ad.Precision
	addPrecisionFlag(fs, &prec)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if err := checkSampleFlags(*n, *batch, *temp, *nrow, *readjust, *iters, *rbatch, *saveBN, *out); err != nil {
		return err
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	// --save_bn writes the checkpoint back, extras (optimizer state) included
	load := modelfile.LoadWeights
	if *saveBN {
		load = modelfile.Load
	}
	m, saved, err := load(*ckpt)
	if err != nil {
		return err
	}
	m.Precision = prec
	size := m.Cfg.ImageSize()
	cv, err := report.NewCanvas(*n, size, size, m.Cfg.ImageChannels(), *nrow, 0, 1)
	if err != nil {
		return fmt.Errorf("--n %d: %w", *n, err)
	}
	if *saveBN {
		// checked before the re-adjustment, which can take long
		if saved == nil {
			return fmt.Errorf("--save_bn writes into the checkpoint, which must be a .safetensors file: %s is not (convert it first with 'nvae import')", *ckpt)
		}
		// A run directory is locked so that no training run writes it meanwhile.
		if filepath.Base(saved.Path) == modelfile.RunFile && job.Rank() == 0 {
			lock, err := runlock.Acquire(filepath.Dir(saved.Path))
			if err != nil {
				return err
			}
			defer lock.Release()
		}
	}
	noise := model.NewSeededNoise(*seed)
	if *readjust {
		fmt.Fprintf(stdout, "re-adjusting BN statistics: %d passes of %d at t=%g\n", *iters, *rbatch*job.Size(), *temp)
		rn := noise
		if job.Size() > 1 {
			// Synchronized statistics over every rank's passes, each rank drawing its own.
			m.SetStatReducer(job)
			rn = model.NewSeededNoise(*seed + uint64(job.Rank())*0x9e3779b97f4a7c15)
		}
		progressOut := errOut
		if job.Rank() != 0 {
			progressOut = io.Discard // rank 0 speaks for the job
		}
		task := report.NewTask(progressOut, "re-adjusting BN", "passes", int64(*iters))
		err := eval.ReadjustBNFunc(m, *iters, *rbatch, float32(*temp), rn, func(int) { task.Add(1) })
		task.Done()
		if err != nil {
			return err
		}
		m.SetStatReducer(nil)
		if job.Rank() != 0 {
			return nil // rank 0 writes
		}
		if *saveBN {
			// Rewrite the file in place, keeping what it holds beside the model (a
			// training run's state), so that it still resumes. This replacement is
			// what --save_bn asks for, so it needs no --force.
			path := saved.Path
			fmt.Fprintf(stdout, "--save_bn: updating the BN statistics of %s in place (weights and training state are kept)\n", path)
			meta := maps.Clone(saved.Metadata)
			if meta == nil {
				meta = map[string]string{}
			}
			meta["bn_readjusted"] = fmt.Sprintf("temp=%g iters=%d batch=%d", *temp, *iters, *rbatch)
			modelfile.SetBNTemperature(meta, *temp)
			if err := modelfile.Save(path, m, saved.Extra, meta); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "saved the re-adjusted statistics (t=%g) into %s\n", *temp, path)
		}
	} else if bt, ok := saved.BNTemperature(); ok && bt != *temp {
		fmt.Fprintf(errOut, "warning: the BN statistics in %s were re-adjusted at t=%g, not at --temp %g; give --readjust_bn to re-adjust them at t=%g\n",
			saved.Path, bt, *temp, *temp)
	}
	rng := noise.Rand()
	task := report.NewTask(errOut, "sampling", "images", int64(*n))
	for first := 0; first < *n; first += *batch {
		k := min(*batch, *n-first)
		img, err := sampleBatch(m, k, float32(*temp), mode, noise, rng)
		if err != nil {
			return err
		}
		if err := cv.Put(0, first, img); err != nil {
			return err
		}
		task.Add(k)
	}
	task.Done()
	if err := report.SaveImage(*out, cv.Image()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d samples (t=%g) to %s\n", *n, *temp, *out)
	return nil
}

// maxTemp is the largest latent temperature sample accepts.
const maxTemp = 4

// checkSampleFlags validates sample's flags before any work.
func checkSampleFlags(n, batch int, temp float64, nrow int, readjust bool, iters, rbatch int, saveBN bool, out string) error {
	switch {
	case n < 1:
		return fmt.Errorf("--n must be at least 1, got %d", n)
	case batch < 1:
		return fmt.Errorf("--batch_size must be at least 1, got %d", batch)
	case !(temp > 0 && temp <= maxTemp):
		return fmt.Errorf("--temp must be in (0, %d] (the paper samples at 0.6–1.0), got %v", maxTemp, temp)
	case nrow < 0:
		return fmt.Errorf("--nrow must be at least 1, or 0 for a square grid, got %d", nrow)
	case saveBN && !readjust:
		return fmt.Errorf("--save_bn needs --readjust_bn")
	}
	if readjust && (iters < 1 || rbatch < 1) {
		return fmt.Errorf("--readjust_iters and --readjust_batch must be at least 1, got %d and %d", iters, rbatch)
	}
	if _, err := report.ImageFormat(out); err != nil {
		return fmt.Errorf("--out %w", err)
	}
	return nil
}

func runRecon(args []string, stdout io.Writer) error {
	fs := newFlags("recon", "--checkpoint PATH [--n N] [--out FILE.png] [--precision fp32|bf16]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	n := fs.Int("n", 16, "number of images")
	batch := fs.Int("batch_size", 64, "images per forward pass: memory is that of one batch, whatever --n")
	out := fs.String("out", "reconstructions.png", "image file to write, .png or .jpg/.jpeg (inputs on the left, reconstructions on the right)")
	src := fs.String("data", "embedded", "image reader, which files are read (the likelihood is the checkpoint's --dataset): "+joinNames(data.Names))
	dir := fs.String("data_dir", "", "directory (or archive) of the images")
	split := fs.String("split", "test", "split: test or train")
	pixels := fs.String("pixels", "default", "default, mean or sample_t")
	seed := fs.Uint64("seed", 1, "random seed")
	var prec ad.Precision
	addPrecisionFlag(fs, &prec)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *n < 1 {
		return fmt.Errorf("--n must be at least 1, got %d", *n)
	}
	if *batch < 1 {
		return fmt.Errorf("--batch_size must be at least 1, got %d", *batch)
	}
	if _, err := report.ImageFormat(*out); err != nil {
		return fmt.Errorf("--out %w", err)
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	m, _, err := modelfile.LoadWeights(*ckpt)
	if err != nil {
		return err
	}
	m.Precision = prec
	cfg := m.Cfg
	if err := data.CheckSource(*src, cfg.Dataset, cfg.Binary(), cfg.ImageSize()); err != nil {
		return err
	}
	ds, err := data.OpenFor(*src, *dir, *split, cfg.ImageSize(), cfg.ImageChannels())
	if err != nil {
		return err
	}
	if *n > ds.N {
		return fmt.Errorf("--n %d: the %s split of %s has only %d images", *n, *split, ds.Name, ds.N)
	}
	bs := min(*batch, *n)
	l, err := data.EvalLoader(ds, cfg.Dataset, cfg.NumXBits, bs, *seed)
	if err != nil {
		return err
	}
	defer l.Close()
	size := cfg.ImageSize()
	cv, err := report.NewCanvas(*n, size, size, cfg.ImageChannels(), 0, 0, 2)
	if err != nil {
		return fmt.Errorf("--n %d: %w", *n, err)
	}
	noise := model.NewSeededNoise(*seed)
	rng := noise.Rand()
	task := report.NewTask(errOut, "reconstructing", "images", int64(*n))
	defer task.Done()
	for first := 0; first < *n; {
		b, err := l.Next()
		if err != nil {
			return err
		}
		x := b.X
		if s := x.Shape(); len(s) != 4 || s[1] != size || s[2] != size || s[3] != cfg.ImageChannels() {
			b.Release()
			return fmt.Errorf("images of %s come out with shape %v, but the model takes %d×%d×%d images", ds.Name, s[1:], size, size, cfg.ImageChannels())
		}
		k := min(x.Shape()[0], *n-first)
		if k < x.Shape()[0] {
			x = tensor.FromData(x.Data()[:k*x.Len()/x.Shape()[0]], append([]int{k}, x.Shape()[1:]...)...)
		}
		rec := reconBatch(m, x, mode, noise, rng)
		err = cv.Put(0, first, x)
		if err == nil {
			err = cv.Put(1, first, rec)
		}
		b.Release()
		if err != nil {
			return err
		}
		first += k
		task.Add(k)
	}
	if err := report.SaveImage(*out, cv.Image()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d reconstructions to %s\n", *n, *out)
	return nil
}
