package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/internal/runlock"
	"github.com/nvae-go/nvae/modelfile"
)

// TestOneRunPerDirectory: while a trainer holds a run directory, a second New on it
// fails at once naming the holder's PID; after Close the directory is free again.
func TestOneRunPerDirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := New(testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(testOptions(t, dir))
	if !errors.Is(err, runlock.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second trainer on %s: %v; want a lock error naming PID %d", dir, err, os.Getpid())
	}
	a.Close()
	b, err := New(testOptions(t, dir))
	if err != nil {
		t.Fatalf("trainer after the first closed: %v", err)
	}
	b.Close()
}

// TestNoSilentOverwrite: a run that does not resume refuses to replace an existing
// checkpoint unless Force is set, and a refused New leaves the file and the lock alone.
func TestNoSilentOverwrite(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.StepOnce(); err != nil {
		t.Fatal(err)
	}
	if err := tr.checkpoint(1); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	ckpt := filepath.Join(dir, modelfile.RunFile)
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, dir)
	o.Resume = false
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), ckpt) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("fresh run over a checkpoint: %v; want a refusal naming %s and --force", err, ckpt)
	}
	after, _ := os.ReadFile(ckpt)
	if string(before) != string(after) {
		t.Fatal("a refused run changed the checkpoint")
	}
	o.Force = true
	tr, err = New(o)
	if err != nil {
		t.Fatalf("--force: %v", err)
	}
	if tr.prog.Step != 0 {
		t.Errorf("forced fresh run starts at step %d", tr.prog.Step)
	}
	tr.Close()
}
