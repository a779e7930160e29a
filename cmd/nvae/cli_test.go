package main

import (
	"bytes"
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
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--temp", "0"}, 1, "--temp > 0"},
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--pixels", "blue"}, 1, "--pixels"},
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--save_bn"}, 1, "--save_bn needs --readjust_bn"},
		{[]string{"recon"}, 1, "--checkpoint is required"},
		{[]string{"import", "only-one"}, 2, "positional"},
		{[]string{"import", "../../go.mod", filepath.Join(dir, "x.safetensors")}, 1, "zip"},
		{[]string{"bench", "nothing"}, 2, "unknown benchmark"},
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
