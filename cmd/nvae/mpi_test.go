package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/internal/testutil"
)

// dpTrainArgs is a short data-parallel training run of tiny_mnist on the embedded
// images, 4 steps of 2 images per process.
func dpTrainArgs(out string, extra ...string) []string {
	return append([]string{"train", "--preset", "tiny_mnist", "--batch_size", "2", "--steps", "4", "--out", out,
		"--log_every", "1", "--eval_images", "4", "--num_iw_samples", "1"}, extra...)
}

// stepLosses reads the training losses of metrics.jsonl by step.
func stepLosses(t *testing.T, dir string) map[int]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("metrics.jsonl: %v in %q", err, line)
		}
		if l, ok := rec["loss"].(float64); ok {
			out[int(rec["step"].(float64))] = l
		}
	}
	return out
}

// TestMPITrainResume runs `mpirun -np 2 nvae train` for 4 steps without a break, and
// again stopped after 2 steps (--stop_after) then resumed: the resumed run logs the
// same losses, bit for bit, as the uninterrupted one. Resuming that run directory with
// one process is refused, naming both world sizes.
func TestMPITrainResume(t *testing.T) {
	testutil.NeedMPI(t)
	prog := testutil.Build(t, ".")
	dir := t.TempDir()
	whole, split := filepath.Join(dir, "whole"), filepath.Join(dir, "split")
	if out, err := testutil.RunMPI(t, 2, nil, prog, dpTrainArgs(whole)...); err != nil {
		t.Fatalf("mpirun -np 2 nvae train: %v\n%s", err, out)
	} else if !strings.Contains(out, "data-parallel over 2 processes") {
		t.Fatalf("the run does not say it is data-parallel:\n%s", out)
	}
	if out, err := testutil.RunMPI(t, 2, nil, prog, dpTrainArgs(split, "--stop_after", "2")...); err != nil {
		t.Fatalf("mpirun -np 2 nvae train --stop_after 2: %v\n%s", err, out)
	}
	if n := len(stepLosses(t, split)); n != 2 {
		t.Fatalf("the run stopped after 2 steps logged %d steps", n)
	}

	// One process cannot resume a 2-process run.
	var stdout, stderr bytes.Buffer
	if code := run(dpTrainArgs(split), &stdout, &stderr); code != 1 {
		t.Fatalf("resuming a 2-process run with 1 process exited %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"data-parallel run of 2 process(es) and this run has 1", "mpirun -np 2"} {
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("the refusal %q does not say %q", stderr.String(), want)
		}
	}

	if out, err := testutil.RunMPI(t, 2, nil, prog, dpTrainArgs(split)...); err != nil {
		t.Fatalf("resuming with mpirun -np 2: %v\n%s", err, out)
	} else if !strings.Contains(out, "resuming") {
		t.Fatalf("the second run did not resume:\n%s", out)
	}
	a, b := stepLosses(t, whole), stepLosses(t, split)
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("logged %d and %d steps, want 4 each", len(a), len(b))
	}
	for s, l := range a {
		if b[s] != l {
			t.Errorf("step %d: loss %v after the resumption, %v without a break", s, b[s], l)
		}
	}
}

// TestMPIRefusedCommand checks that a command that runs as one process only refuses to
// be one rank of an MPI job, and that a supported one is recognised (in process: the
// launcher's variables are set by hand, so no MPI is needed).
func TestMPIRefusedCommand(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	for _, args := range [][]string{
		{"import", "a.pt", "b.safetensors"},
		{"bench", "kernels"},
		{"sample", "--checkpoint", fixtureCheckpoint},
		{"recon", "--checkpoint", fixtureCheckpoint},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "runs as one process only") ||
			!strings.Contains(stderr.String(), "rank 1 of a job of 2") {
			t.Errorf("nvae %s under mpirun: exit %d, %q; want 1 and a refusal", strings.Join(args, " "), code, stderr.String())
		}
	}
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"--checkpoint", "x", "--readjust_bn"}, true},
		{[]string{"-readjust_bn=true"}, true},
		{[]string{"--readjust_bn=false"}, false},
		{[]string{"--readjust_iters", "3"}, false},
	} {
		if got := readjusts(c.args); got != c.want {
			t.Errorf("readjusts(%v) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestMPIEvalAndReadjust runs `nvae eval` under mpirun -np 2 on the F1 checkpoint: the
// ranks' shares add up to the requested images and the combined NELBO is close to one
// process's on the same images (the posterior noise differs, so not equal: within 5%);
// then `nvae sample --readjust_bn` under mpirun writes its picture from rank 0.
func TestMPIEvalAndReadjust(t *testing.T) {
	testutil.NeedMPI(t)
	prog := testutil.Build(t, ".")
	args := []string{"eval", "--checkpoint", fixtureCheckpoint, "--num_iw_samples", "1", "--max_images", "6", "--batch_size", "3", "--json"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("nvae eval: exit %d\n%s", code, stderr.String())
	}
	var one, two struct {
		NELBO  float64 `json:"nelbo_nats"`
		Images int     `json:"num_images"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &one); err != nil {
		t.Fatal(err)
	}
	out, err := testutil.RunMPI(t, 2, nil, prog, args...)
	if err != nil {
		t.Fatalf("mpirun -np 2 nvae eval: %v\n%s", err, out)
	}
	// stdout and stderr come mixed: the progress lines (stderr, rank 0 only) and one
	// JSON object (stdout, rank 0 only)
	var objects []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			objects = append(objects, line)
		}
	}
	if len(objects) != 1 || strings.Count(out, "eval [") > 1 {
		t.Fatalf("mpirun -np 2 nvae eval printed %q, want one JSON object and one progress display, from rank 0", out)
	}
	if err := json.Unmarshal([]byte(objects[0]), &two); err != nil {
		t.Fatalf("mpirun -np 2 nvae eval printed %q (want one JSON object, from rank 0): %v", out, err)
	}
	if one.Images != 6 || two.Images != 6 {
		t.Fatalf("evaluated %d images alone and %d on 2 ranks, want 6", one.Images, two.Images)
	}
	if d := (two.NELBO - one.NELBO) / one.NELBO; d > 0.05 || d < -0.05 {
		t.Fatalf("NELBO %v on 2 ranks, %v alone", two.NELBO, one.NELBO)
	}
	png := filepath.Join(t.TempDir(), "s.png")
	out, err = testutil.RunMPI(t, 2, nil, prog, "sample", "--checkpoint", fixtureCheckpoint, "--readjust_bn", "--readjust_iters", "2",
		"--readjust_batch", "4", "--n", "4", "--out", png)
	if err != nil {
		t.Fatalf("mpirun -np 2 nvae sample --readjust_bn: %v\n%s", err, out)
	}
	if !strings.Contains(out, "2 passes of 8") {
		t.Fatalf("the re-adjustment does not span both ranks' batches:\n%s", out)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("no picture written: %v", err)
	}
}
