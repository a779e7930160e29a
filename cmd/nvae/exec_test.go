package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
)

// nvaeBin is the nvae binary built once by TestMain for the tests that exec it.
var nvaeBin string

// testFiles holds checkpoints written once by TestMain.
var testFiles struct {
	dir        string
	colour32   string // a 3×32×32 logistic-mixture model (cifar10)
	colour16   string // tiny_cifar10: 3×16×16
	grey       string // tiny_mnist
	buildError error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nvae-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testFiles.dir = dir
	nvaeBin = filepath.Join(dir, "nvae")
	if runtime.GOOS == "windows" {
		nvaeBin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", nvaeBin, ".").CombinedOutput()
	if err != nil {
		testFiles.buildError = fmt.Errorf("go build: %v: %s", err, out)
	}
	for _, c := range []struct {
		preset string
		size   int
		path   *string
	}{{"tiny_cifar10", 32, &testFiles.colour32}, {"tiny_cifar10", 0, &testFiles.colour16}, {"tiny_mnist", 0, &testFiles.grey}} {
		*c.path = filepath.Join(dir, fmt.Sprintf("%s_%d.safetensors", c.preset, c.size))
		if err := writeTestModel(*c.path, c.preset, c.size); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeTestModel saves a freshly initialised model of the preset (input size
// overridden when size > 0) at path.
func writeTestModel(path, preset string, size int) error {
	cfg, err := model.Preset(preset)
	if err != nil {
		return err
	}
	if size > 0 {
		cfg.InputSize = size
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		return err
	}
	return modelfile.Save(path, m, nil, nil)
}

// execNVAE runs the built binary and returns its exit code, stdout and stderr.
func execNVAE(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	if testFiles.buildError != nil {
		t.Fatal(testFiles.buildError)
	}
	cmd := exec.Command(nvaeBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("nvae %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// assertOneLineError checks a failed run: non-zero exit, one line on stderr that
// contains want, and no trace of a panic.
func assertOneLineError(t *testing.T, args []string, code int, stderr, want string) {
	t.Helper()
	if code == 0 {
		t.Errorf("nvae %v: exit 0, want an error (stderr %q)", args, stderr)
		return
	}
	for _, bad := range []string{"panic", "goroutine", "internal error"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("nvae %v: stderr shows %q:\n%s", args, bad, stderr)
			return
		}
	}
	msg := strings.TrimSpace(stderr)
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("nvae %v: want a one-line error, got %d lines:\n%s", args, strings.Count(msg, "\n")+1, stderr)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("nvae %v: error %q lacks %q", args, msg, want)
	}
}

// TestEveryCommandFailsCleanly runs every subcommand with an unknown flag, with -h,
// and the model commands against data and checkpoints that do not fit: each bad
// invocation exits non-zero with one line on stderr and never panics.
func TestEveryCommandFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	// bench takes a benchmark name first
	prefix := map[string][]string{"bench": {"bench", "sample"}}
	for _, n := range names {
		args := prefix[n]
		if args == nil {
			args = []string{n}
		}
		bad := append(append([]string{}, args...), "--bogus", "1")
		code, _, stderr := execNVAE(t, dir, bad...)
		assertOneLineError(t, bad, code, stderr, "-bogus")
		if !strings.Contains(stderr, "-h' for help") {
			t.Errorf("nvae %v: error %q does not point at -h", bad, stderr)
		}
		help := append(append([]string{}, args...), "-h")
		code, _, stderr = execNVAE(t, dir, help...)
		if code != 0 || strings.Contains(stderr, "panic") || !strings.Contains(stderr, "usage:") {
			t.Errorf("nvae %v: exit %d, stderr:\n%s", help, code, stderr)
		}
	}
	pt := absPath(t, fixtureCheckpoint)
	goMod := absPath(t, "../../go.mod")
	cases := []struct {
		args []string
		want string
	}{
		// a colour model on the default (greyscale) data
		{[]string{"recon", "--checkpoint", testFiles.colour32}, "--data embedded"},
		{[]string{"recon", "--checkpoint", testFiles.colour16}, "--data embedded"},
		{[]string{"eval", "--checkpoint", testFiles.colour32, "--num_iw_samples", "1"}, "--data embedded"},
		{[]string{"recon", "--checkpoint", testFiles.grey, "--data", "cifar10", "--data_dir", dir}, "--data cifar10"},
		{[]string{"eval", "--checkpoint", testFiles.grey, "--data", "folder", "--data_dir", dir}, "--data folder"},
		{[]string{"train", "--preset", "tiny_cifar10", "--out", filepath.Join(dir, "r")}, "--data embedded"},
		{[]string{"train", "--preset", "tiny_mnist", "--data", "cifar10", "--out", filepath.Join(dir, "r")}, "--data cifar10"},
		// files that are not what they should be
		{[]string{"sample", "--checkpoint", filepath.Join(dir, "nope")}, "nope"},
		{[]string{"sample", "--checkpoint", goMod}, "go.mod"},
		{[]string{"eval", "--checkpoint", testFiles.grey, "--images", testFiles.colour32}, "no tensor named"},
		{[]string{"import", goMod, filepath.Join(dir, "x.safetensors")}, "go.mod"},
		{[]string{"import", pt}, "positional"},
		{[]string{"parity", filepath.Join(dir, "nofixtures")}, "nofixtures"},
		{[]string{"bench", "sample", "--checkpoint", filepath.Join(dir, "nope")}, "nope"},
		{[]string{"bench", "sample", "--preset", "nope"}, "unknown preset"},
		{[]string{"bench", "train", "--preset", "nope"}, "unknown preset"},
		{[]string{"bench", "nothing"}, "unknown benchmark"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		code, _, stderr := execNVAE(t, dir, c.args...)
		assertOneLineError(t, c.args, code, stderr, c.want)
	}
}

func absPath(t *testing.T, path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPanicBecomesOneLine: a panic inside a command (a bug) still ends as one line of
// error, not a stack trace.
func TestPanicBecomesOneLine(t *testing.T) {
	t.Setenv("NVAE_PANIC", "")
	c := &command{name: "boom", run: func([]string, io.Writer) error {
		var m map[string]int
		m["x"] = 1 // assignment to a nil map panics
		return nil
	}}
	err := runCommand(c, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "internal error: assignment to entry in nil map") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("runCommand of a panicking command: %v", err)
	}
}
