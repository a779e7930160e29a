package main

import (
	"fmt"
	"io"
	"maps"
	"math"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
)

func init() {
	register(&command{name: "sample", summary: "draw images from a checkpoint into a PNG grid (temperature, BN re-adjustment)", run: runSample})
	register(&command{name: "recon", summary: "reconstruct test images with a checkpoint into a PNG grid (inputs | outputs)", run: runRecon})
}

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

func runSample(args []string, stdout io.Writer) error {
	fs := newFlags("sample", "--checkpoint PATH [--n N] [--temp T] [--out FILE.png] [--readjust_bn]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	n := fs.Int("n", 16, "number of images")
	temp := fs.Float64("temp", 0.7, "latent temperature (scales every latent σ)")
	out := fs.String("out", "samples.png", "PNG file to write")
	nrow := fs.Int("nrow", 0, "images per grid row (0: square)")
	readjust := fs.Bool("readjust_bn", false, "re-estimate the decoder's BN statistics at this temperature first (official: 500 passes of 16)")
	iters := fs.Int("readjust_iters", 500, "generative passes for --readjust_bn")
	rbatch := fs.Int("readjust_batch", 16, "batch size of the --readjust_bn passes")
	saveBN := fs.Bool("save_bn", false, "with --readjust_bn, write the re-adjusted statistics back into the checkpoint (a .safetensors file) so later sampling reuses them")
	pixels := fs.String("pixels", "default", "how images are made from the decoder: default (Bernoulli mean, DML sample at t=1, as evaluate.py), mean, sample_t")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *n < 1 || *temp <= 0 || math.IsNaN(*temp) {
		return fmt.Errorf("need --n ≥ 1 and --temp > 0 (got %d, %v)", *n, *temp)
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	m, saved, err := modelfile.Load(*ckpt)
	if err != nil {
		return err
	}
	noise := model.NewSeededNoise(*seed)
	if *readjust {
		fmt.Fprintf(stdout, "re-adjusting BN statistics: %d passes of %d at t=%g\n", *iters, *rbatch, *temp)
		eval.ReadjustBN(m, *iters, *rbatch, float32(*temp), noise)
		if *saveBN {
			if saved == nil {
				return fmt.Errorf("--save_bn needs a .safetensors checkpoint (import a .pt file first with 'nvae import')")
			}
			// Rewrite the file in place, keeping what it holds beside the model (a
			// training run's state), so that it still resumes.
			path := saved.Path
			meta := maps.Clone(saved.Metadata)
			if meta == nil {
				meta = map[string]string{}
			}
			meta["bn_readjusted"] = fmt.Sprintf("temp=%g iters=%d batch=%d", *temp, *iters, *rbatch)
			if err := modelfile.Save(path, m, saved.Extra, meta); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "saved the re-adjusted statistics into %s\n", path)
		}
	} else if *saveBN {
		return fmt.Errorf("--save_bn needs --readjust_bn")
	}
	img, err := eval.Sample(m, *n, float32(*temp), mode, noise, noise.Rand())
	if err != nil {
		return err
	}
	g, err := report.Grid(img, *nrow)
	if err != nil {
		return err
	}
	if err := report.SavePNG(*out, g); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d samples (t=%g) to %s\n", *n, *temp, *out)
	return nil
}

func runRecon(args []string, stdout io.Writer) error {
	fs := newFlags("recon", "--checkpoint PATH [--n N] [--out FILE.png]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	n := fs.Int("n", 16, "number of images")
	out := fs.String("out", "reconstructions.png", "PNG file to write (inputs on the left, reconstructions on the right)")
	src := fs.String("data", "embedded", "image reader, which files are read (the likelihood is the checkpoint's --dataset): "+joinNames(data.Names))
	dir := fs.String("data_dir", "", "directory (or archive) of the images")
	split := fs.String("split", "test", "split: test or train")
	pixels := fs.String("pixels", "default", "default, mean or sample_t")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *n < 1 {
		return fmt.Errorf("--n must be at least 1, got %d", *n)
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	m, _, err := modelfile.Load(*ckpt)
	if err != nil {
		return err
	}
	cfg := m.Cfg
	if err := data.CheckSource(*src, cfg.Dataset, cfg.Binary(), cfg.ImageSize()); err != nil {
		return err
	}
	ds, err := data.OpenFor(*src, *dir, *split, cfg.ImageSize(), cfg.ImageChannels())
	if err != nil {
		return err
	}
	l, err := data.EvalLoader(ds, cfg.Dataset, cfg.NumXBits, *n, *seed)
	if err != nil {
		return err
	}
	defer l.Close()
	b, err := l.Next()
	if err != nil {
		return err
	}
	defer b.Release()
	noise := model.NewSeededNoise(*seed)
	rec := eval.Reconstruct(m, b.X, mode, noise, noise.Rand())
	g, err := report.ReconGrid(b.X, rec, 0, 0)
	if err != nil {
		return err
	}
	if err := report.SavePNG(*out, g); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d reconstructions to %s\n", b.X.Shape()[0], *out)
	return nil
}
