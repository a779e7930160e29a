//go:build linux || darwin

package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExclusive: a second lock on the same directory (a separate open file
// description, as a second process has) fails at once naming the holder's PID, and
// succeeds once the first is released.
func TestExclusive(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir)
	if err == nil {
		b.Release()
		t.Fatal("second Acquire on a held directory succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second Acquire: %v; want ErrLocked naming %s and PID %d", err, dir, os.Getpid())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, FileName)); strings.TrimSpace(string(got)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want the PID %d", got, os.Getpid())
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	c, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	c.Release()
	if _, err := Acquire(filepath.Join(dir, "missing")); err == nil {
		t.Error("Acquire on a missing directory succeeded")
	}
}
