// Package runlock makes a run directory belong to one process at a time: Acquire
// takes an exclusive lock on a lock file in the directory, which the kernel releases
// when the process ends (also by kill -9), and writes the holder's PID into it so that
// a second process can say who holds it.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the name of the lock file in a run directory.
const FileName = ".nvae.lock"

// ErrLocked is wrapped by the error Acquire returns when another process (or another
// open Lock in this process) holds the directory.
var ErrLocked = errors.New("run directory is in use")

// Lock is a held lock on a run directory.
type Lock struct {
	f    *os.File
	path string
}

// Acquire locks the run directory dir (which must exist) for this process. When
// another holder has it, it fails at once with an error wrapping ErrLocked that names
// the directory and the holder's PID.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking run directory %s: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking run directory %s: %w", dir, err)
	}
	if !held {
		b, _ := os.ReadFile(path)
		f.Close()
		who := "another process"
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			who = fmt.Sprintf("process %d", pid)
		}
		return nil, fmt.Errorf("%w: %s is held by %s (lock file %s); wait for it to finish or use another directory", ErrLocked, dir, who, path)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the directory back. The lock file stays (removing it would let a
// third process lock a new file while a second one still waits on the old).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
