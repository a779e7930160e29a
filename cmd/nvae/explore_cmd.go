package main

import (
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // input images may be JPEG
	_ "image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

func init() {
	register(&command{name: "interpolate", summary: "walk between the latents of two images into a PNG strip", run: runInterpolate})
	register(&command{name: "traverse", summary: "keep an image's coarse latent groups, resample the rest: a PNG grid, one row per number kept", run: runTraverse})
}

// readjustFlags are the BN re-adjustment flags shared by interpolate and traverse.
type readjustFlags struct {
	on           *bool
	iters, batch *int
}

func addReadjustFlags(fs *flag.FlagSet) readjustFlags {
	return readjustFlags{
		on:    fs.Bool("readjust_bn", false, "re-estimate the decoder's BN statistics at the temperature first (official: 500 passes of 16)"),
		iters: fs.Int("readjust_iters", 500, "generative passes for --readjust_bn"),
		batch: fs.Int("readjust_batch", 16, "batch size of the --readjust_bn passes"),
	}
}

func (r readjustFlags) apply(m *model.Model, t float32, seed uint64, stdout io.Writer) error {
	if !*r.on {
		return nil
	}
	fmt.Fprintf(stdout, "re-adjusting BN statistics: %d passes of %d at t=%g\n", *r.iters, *r.batch, t)
	return eval.ReadjustBN(m, *r.iters, *r.batch, t, model.NewSeededNoise(seed))
}

// loadInput reads a PNG or JPEG file and prepares it as the model's input.
func loadInput(cfg model.Config, path, flagName string, rng *rand.Rand) (*tensor.Tensor, error) {
	if path == "" {
		return nil, fmt.Errorf("--%s is required", flagName)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: not a PNG or JPEG image: %w", flagName, path, err)
	}
	x, err := eval.ImageInput(cfg, img, rng)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flagName, path, err)
	}
	return x, nil
}

func runInterpolate(args []string, stdout io.Writer) error {
	fs := newFlags("interpolate", "--checkpoint PATH --a IMAGE --b IMAGE [--steps 8] [--method lerp|slerp] [--out FILE.png]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	a := fs.String("a", "", "first image, PNG or JPEG (required; cropped and resized as the training data)")
	b := fs.String("b", "", "second image (required)")
	steps := fs.Int("steps", 8, "images in the strip, both ends included (≥ 2)")
	method := fs.String("method", "lerp", "path between the standardised latents: lerp (linear) or slerp (spherical)")
	out := fs.String("out", "interpolation.png", "PNG file to write (one row)")
	pixels := fs.String("pixels", "default", "default, mean or sample_t")
	seed := fs.Uint64("seed", 1, "random seed (binarisation of the inputs, pixel draws)")
	rj := addReadjustFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *steps < 2 {
		return fmt.Errorf("--steps must be at least 2, got %d", *steps)
	}
	meth, err := eval.ParseInterpMethod(*method)
	if err != nil {
		return fmt.Errorf("--method: %w", err)
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	m, _, err := modelfile.LoadWeights(*ckpt)
	if err != nil {
		return err
	}
	noise := model.NewSeededNoise(*seed)
	xa, err := loadInput(m.Cfg, *a, "a", noise.Rand())
	if err != nil {
		return err
	}
	xb, err := loadInput(m.Cfg, *b, "b", noise.Rand())
	if err != nil {
		return err
	}
	if err := rj.apply(m, 1, *seed, stdout); err != nil {
		return err
	}
	strip, err := eval.Interpolate(m, xa, xb, *steps, meth, mode, noise.Rand())
	if err != nil {
		return err
	}
	g, err := report.Grid(strip, *steps)
	if err != nil {
		return err
	}
	if err := report.SavePNG(*out, g); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a %d-step %s interpolation to %s\n", *steps, *method, *out)
	return nil
}

// parseKeeps reads "all" or a comma-separated list of group counts in 0..g.
func parseKeeps(s string, g int) ([]int, error) {
	if s == "all" {
		keeps := make([]int, g+1)
		for i := range keeps {
			keeps[i] = i
		}
		return keeps, nil
	}
	var keeps []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 0 || k > g {
			return nil, fmt.Errorf("--keep: %q is not a number of groups from 0 to %d", f, g)
		}
		keeps = append(keeps, k)
	}
	return keeps, nil
}

func runTraverse(args []string, stdout io.Writer) error {
	fs := newFlags("traverse", "--checkpoint PATH --image IMAGE [--keep all|K,K,...] [--n 8] [--temp 0.7] [--out FILE.png]")
	ckpt := fs.String("checkpoint", "", "run directory, checkpoint .safetensors, or NVIDIA's checkpoint.pt (required)")
	in := fs.String("image", "", "image to encode, PNG or JPEG (required; cropped and resized as the training data)")
	keepFlag := fs.String("keep", "all", "numbers of top (coarsest) groups to keep, one grid row each: all (0..groups) or a list like 1,2,4")
	n := fs.Int("n", 8, "images per row")
	temp := fs.Float64("temp", 0.7, "temperature of the resampled groups")
	out := fs.String("out", "traversal.png", "PNG file to write")
	pixels := fs.String("pixels", "default", "default, mean or sample_t")
	seed := fs.Uint64("seed", 1, "random seed (every row uses the same one)")
	rj := addReadjustFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("--checkpoint is required")
	}
	if *n < 1 || !(*temp > 0) || math.IsInf(*temp, 0) {
		return fmt.Errorf("need --n ≥ 1 and a finite --temp > 0 (got %d, %v)", *n, *temp)
	}
	mode, err := pixelMode(*pixels)
	if err != nil {
		return err
	}
	m, _, err := modelfile.LoadWeights(*ckpt)
	if err != nil {
		return err
	}
	keeps, err := parseKeeps(*keepFlag, m.Cfg.NumGroups())
	if err != nil {
		return err
	}
	x, err := loadInput(m.Cfg, *in, "image", model.NewSeededNoise(*seed).Rand())
	if err != nil {
		return err
	}
	if err := rj.apply(m, float32(*temp), *seed, stdout); err != nil {
		return err
	}
	var rows []*tensor.Tensor
	for _, k := range keeps {
		noise := model.NewSeededNoise(*seed)
		r, err := eval.Traverse(m, x, k, float32(*temp), *n, mode, noise, noise.Rand())
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	s := rows[0].Shape()
	all := tensor.New(len(rows)*s[0], s[1], s[2], s[3])
	for i, r := range rows {
		copy(all.Data()[i*r.Len():], r.Data())
	}
	g, err := report.Grid(all, *n)
	if err != nil {
		return err
	}
	if err := report.SavePNG(*out, g); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a traversal (rows keep %v of %d groups, t=%g) to %s\n", keeps, m.Cfg.NumGroups(), *temp, *out)
	return nil
}
