package main

import (
	"bytes"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// TestBoundedMemory: sample and recon reach the model in batches of at most
// --batch_size whatever --n (so their memory is that of one batch), and every image
// lands in the grid; a grid too large for one image, or more images than the split
// has, is an error before any work.
func TestBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	var sizes []int
	origS, origR := sampleBatch, reconBatch
	defer func() { sampleBatch, reconBatch = origS, origR }()
	sampleBatch = func(m *model.Model, n int, temp float32, mode eval.PixelMode, noise model.Noise, rng *rand.Rand) (*tensor.Tensor, error) {
		sizes = append(sizes, n)
		return origS(m, n, temp, mode, noise, rng)
	}
	reconBatch = func(m *model.Model, x *tensor.Tensor, mode eval.PixelMode, noise model.Noise, rng *rand.Rand) *tensor.Tensor {
		sizes = append(sizes, x.Shape()[0])
		return origR(m, x, mode, noise, rng)
	}
	for _, c := range []struct {
		args  []string
		sizes []int
		w, h  int
	}{
		{[]string{"sample", "--n", "11", "--batch_size", "4"}, []int{4, 4, 3}, 4 * 32, 3 * 32},
		{[]string{"sample", "--n", "3", "--batch_size", "8", "--nrow", "1"}, []int{3}, 32, 3 * 32},
		{[]string{"recon", "--n", "9", "--batch_size", "4"}, []int{4, 4, 1}, 2 * 3 * 32, 3 * 32},
	} {
		sizes = nil
		out := filepath.Join(dir, c.args[0]+".png")
		args := append(append([]string{}, c.args...), "--checkpoint", fixtureCheckpoint, "--out", out)
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("nvae %v: exit %d: %s", args, code, stderr.String())
		}
		if !slices.Equal(sizes, c.sizes) {
			t.Errorf("nvae %v: passes of %v images, want %v", args, sizes, c.sizes)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("nvae %v: grid is %dx%d, want %dx%d", args, b.Dx(), b.Dy(), c.w, c.h)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sample", "--n", "100000000"}, "pixel limit"},
		{[]string{"recon", "--n", "1200"}, "has only 1000 images"},
		{[]string{"sample", "--batch_size", "0"}, "--batch_size must be at least 1"},
		{[]string{"recon", "--batch_size", "-1"}, "--batch_size must be at least 1"},
	} {
		sizes = nil
		args := append(append([]string{}, c.args...), "--checkpoint", fixtureCheckpoint, "--out", filepath.Join(dir, "x.png"))
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("nvae %v: exit %d, stderr %q; want %q", args, code, stderr.String(), c.want)
		}
		if len(sizes) != 0 {
			t.Errorf("nvae %v: ran %d passes before failing", args, len(sizes))
		}
	}
}
