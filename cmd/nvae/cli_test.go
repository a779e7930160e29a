package main

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureCheckpoint = "../../tensorfile/testdata/f1_checkpoint.pt"

// TestCLIErrors: bad arguments exit non-zero with a one-line reason.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, ""},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"train", "--no_such_flag"}, 2, "no_such_flag"},
		{[]string{"train", "--preset", "nope", "--out", dir}, 1, "unknown preset"},
		{[]string{"train", "--out", dir, "--batch_size", "x"}, 1, "want an integer"},
		{[]string{"train", "--out", dir, "--num_postprocess_blocks", "3"}, 1, "num_postprocess_blocks"},
		{[]string{"train", "--out", dir, "--data", "nosuchset"}, 1, "nosuchset"},
		{[]string{"train", "--out", dir, "--steps", "-3"}, 1, "--steps must not be negative"},
		{[]string{"train", "stray"}, 2, "positional"},
		{[]string{"eval"}, 1, "--checkpoint is required"},
		{[]string{"eval", "--checkpoint", filepath.Join(dir, "missing")}, 1, "missing"},
		{[]string{"eval", "--checkpoint", fixtureCheckpoint, "--num_iw_samples", "0"}, 1, "num_iw_samples"},
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--temp", "0"}, 1, "--temp must be in (0, 4]"},
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--pixels", "blue"}, 1, "--pixels"},
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--save_bn"}, 1, "--save_bn needs --readjust_bn"},
		{[]string{"recon"}, 1, "--checkpoint is required"},
		{[]string{"import", "only-one"}, 2, "positional"},
		{[]string{"import", "../../go.mod", filepath.Join(dir, "x.safetensors")}, 1, "zip"},
		{[]string{"bench", "nothing"}, 2, "unknown benchmark"},
		{[]string{"serve", "--checkpoint", fixtureCheckpoint, "--addr", "0.0.0.0:0"}, 1, "nvae serve: refusing to listen"},
		{[]string{"serve", "--checkpoint", fixtureCheckpoint, "--addr", "nocolon"}, 1, "nvae serve: address"},
		{[]string{"bench", "train", "--steps", "0"}, 1, "nvae bench train: want --steps"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code {
			t.Errorf("nvae %v: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
			continue
		}
		if c.msg != "" && !strings.Contains(errb.String(), c.msg) {
			t.Errorf("nvae %v: stderr %q lacks %q", c.args, errb.String(), c.msg)
		}
		if len(c.args) > 0 && strings.Contains(errb.String(), "nvae "+c.args[0]+": "+c.args[0]) {
			t.Errorf("nvae %v: the command is named twice: %q", c.args, errb.String())
		}
		if code == 1 && strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("nvae %v: error is not one line: %q", c.args, errb.String())
		}
	}
}

// TestImportThenSample converts the official fixture checkpoint and draws a grid from
// it, then evaluates and reconstructs with it.
func TestImportThenSample(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "f1.safetensors")
	png1 := filepath.Join(dir, "s.png")
	for _, args := range [][]string{
		{"import", fixtureCheckpoint, ck},
		{"sample", "--checkpoint", ck, "--n", "4", "--temp", "0.6", "--out", png1},
		{"sample", "--checkpoint", ck, "--n", "4", "--out", filepath.Join(dir, "rb.png"), "--readjust_bn", "--readjust_iters", "3", "--readjust_batch", "2", "--save_bn"},
		{"sample", "--checkpoint", fixtureCheckpoint, "--n", "2", "--out", filepath.Join(dir, "pt.png")},
		{"eval", "--checkpoint", ck, "--num_iw_samples", "2", "--max_images", "8", "--batch_size", "4", "--json"},
		{"recon", "--checkpoint", ck, "--n", "4", "--out", filepath.Join(dir, "r.png")},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("nvae %v: exit %d: %s", args, code, errb.String())
		}
		if args[0] == "eval" && !strings.Contains(out.String(), `"bpd"`) {
			t.Errorf("eval --json printed %q", out.String())
		}
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("grid of 4 32×32 images is %v", b)
	}
}

// TestDataAndDatasetFlags: --data (the reader) and --dataset (the likelihood) must fit
// together; a mismatch is refused before any image is read, naming both flags.
func TestDataAndDatasetFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--data", "cifar10"}, "--data cifar10 reads colour images, but --dataset mnist"},
		{[]string{"--data", "folder", "--data_dir", dir}, "--data folder reads colour images"},
		{[]string{"--dataset", "cifar10"}, "--data embedded reads 28×28 greyscale digits, but --dataset cifar10"},
		{[]string{"--preset", "tiny_cifar10", "--data", "fmnist"}, "--data fmnist reads 28×28 greyscale digits"},
		{[]string{"--preset", "tiny_cifar10", "--data", "cifar10"}, "--data cifar10 gives 32×32 images, but --dataset cifar10 models 16×16"},
		{[]string{"--preset", "celeba_64", "--data", "cifar10"}, "--dataset celeba_64 models 64×64"},
	}
	for _, c := range cases {
		args := append([]string{"train", "--out", filepath.Join(dir, "run")}, c.args...)
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("nvae %v: exit %d, stderr %q; want exit 1 and %q", args, code, errb.String(), c.msg)
		}
	}
	// the help says what each flag picks
	var out, errb bytes.Buffer
	run([]string{"train", "-h"}, &out, &errb)
	for _, want := range []string{"image reader", "which picks the likelihood", "fashion_mnist, embedded", "cifar10, folder, celeba_64",
		"fast_adamax", "accepted with no effect", "cont_training", "must exist"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("nvae train -h lacks %q", want)
		}
	}
}

// TestContTraining: --cont_training continues a run from its checkpoint as the
// official train.py does, and refuses to start when there is none or when
// --resume=false contradicts it.
func TestContTraining(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	short := []string{"--preset", "tiny_mnist", "--out", dir, "--steps", "1", "--eval_images", "8", "--num_iw_samples", "1"}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--cont_training"}, "--cont_training: no checkpoint to continue from in " + dir},
		{[]string{"--cont_training", "--resume=false"}, "--resume=false"},
	} {
		var out, errb bytes.Buffer
		args := append(append([]string{"train"}, short...), c.args...)
		if code := run(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("nvae %v: exit %d, stderr %q; want exit 1 and %q", args, code, errb.String(), c.msg)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("a refused --cont_training created %s", dir)
	}
	var out, errb bytes.Buffer
	if code := run(append([]string{"train"}, short...), &out, &errb); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run(append(append([]string{"train"}, short...), "--cont_training"), &out, &errb); code != 0 {
		t.Fatalf("--cont_training run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "resuming") || !strings.Contains(out.String(), "at step 1") {
		t.Errorf("--cont_training did not continue from the checkpoint: %q", out.String())
	}
}

func TestErrorLine(t *testing.T) {
	for _, c := range []struct{ name, sub, err, want string }{
		{"serve", "--checkpoint", "serve: refusing to listen", "nvae serve: refusing to listen"},
		{"serve", "", "--checkpoint is required", "nvae serve: --checkpoint is required"},
		{"eval", "", "eval: batch: bad\nsecond line", "nvae eval: batch: bad; second line"},
		{"bench", "train", "bench train: want --steps ≥ 1", "nvae bench train: want --steps ≥ 1"},
		{"bench", "kernels", "bench kernels: --repeat must be at least 1", "nvae bench kernels: --repeat must be at least 1"},
		{"bench", "sample", "bench train: x", "nvae bench: bench train: x"}, // not the subcommand run: kept as it is
		{"train", "", "trainer: x", "nvae train: trainer: x"},
		{"train", "--out", "train data: x", "nvae train: train data: x"},
		{"sample", "", "reading samples: x", "nvae sample: reading samples: x"},
	} {
		if got := errorLine(c.name, c.sub, errors.New(c.err)); got != c.want {
			t.Errorf("errorLine(%q, %q, %q) = %q, want %q", c.name, c.sub, c.err, got, c.want)
		}
	}
}
