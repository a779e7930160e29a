package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/internal/runlock"
	"github.com/nvae-go/nvae/modelfile"
)

// TestNoSilentOverwrite: import and a fresh training run refuse to replace an existing
// checkpoint without --force, naming the file; import treats a path ending in / or
// without .safetensors as a run directory and creates it; --save_bn says it updates
// the file in place.
func TestNoSilentOverwrite(t *testing.T) {
	dir := t.TempDir()
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	slash := filepath.Join(dir, "new") + "/"
	bare := filepath.Join(dir, "deep", "run")
	file := filepath.Join(dir, "f1.safetensors")
	for _, out := range []string{slash, bare, file} {
		if code, _, stderr := runCLI("import", fixtureCheckpoint, out); code != 0 {
			t.Fatalf("import into %s: exit %d: %s", out, code, stderr)
		}
	}
	for _, want := range []string{filepath.Join(slash, modelfile.RunFile), filepath.Join(bare, modelfile.RunFile), file} {
		if st, err := os.Stat(want); err != nil || !st.Mode().IsRegular() {
			t.Errorf("import did not write the file %s: %v", want, err)
		}
	}
	ckpt := filepath.Join(bare, modelfile.RunFile)
	before, _ := os.ReadFile(ckpt)
	for _, args := range [][]string{
		{"import", fixtureCheckpoint, bare},
		{"import", fixtureCheckpoint, file},
		{"train", "--preset", "tiny_mnist", "--resume=false", "--out", bare},
	} {
		code, _, stderr := runCLI(args...)
		target := ckpt
		if args[2] == file {
			target = file
		}
		if code != 1 || !strings.Contains(stderr, target) || !strings.Contains(stderr, "--force") {
			t.Errorf("nvae %v: exit %d, stderr %q; want a refusal naming %s and --force", args, code, stderr, target)
		}
	}
	if after, _ := os.ReadFile(ckpt); !bytes.Equal(before, after) {
		t.Fatal("a refused command changed the checkpoint")
	}
	if code, _, stderr := runCLI("import", "--force", fixtureCheckpoint, bare); code != 0 {
		t.Errorf("import --force: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI("import", fixtureCheckpoint, filepath.Join(dir, "go.mod.copy")); code != 0 {
		t.Errorf("import into a new name without suffix: exit %d: %s", code, stderr)
	} else if st, err := os.Stat(filepath.Join(dir, "go.mod.copy")); err != nil || !st.IsDir() {
		t.Errorf("a path without .safetensors did not become a run directory: %v", err)
	}
	code, stdout, stderr := runCLI("sample", "--checkpoint", bare, "--n", "1", "--out", filepath.Join(dir, "s.png"),
		"--readjust_bn", "--readjust_iters", "1", "--readjust_batch", "2", "--save_bn")
	if code != 0 || !strings.Contains(stdout, "in place") || !strings.Contains(stdout, ckpt) {
		t.Errorf("sample --save_bn: exit %d, stdout %q, stderr %q; want it to say it updates %s in place", code, stdout, stderr, ckpt)
	}
}

// TestSecondRunRefused: while this process holds a run directory's lock, 'nvae train'
// in another process exits at once naming this PID.
func TestSecondRunRefused(t *testing.T) {
	dir := t.TempDir()
	lock, err := runlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	args := []string{"train", "--preset", "tiny_mnist", "--steps", "1", "--out", dir}
	code, _, stderr := execNVAE(t, dir, args...)
	assertOneLineError(t, args, code, stderr, fmt.Sprintf("held by process %d", os.Getpid()))
	if _, err := os.Stat(filepath.Join(dir, modelfile.RunFile)); err == nil {
		t.Error("the refused run wrote a checkpoint")
	}
}
