package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestIsTemp(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{".checkpoint.safetensors.tmp-123456", true},
		{".curves.png.tmp-1", true},
		{".a.tmp-1.tmp-22", true},
		{"checkpoint.safetensors", false},
		{"checkpoint.safetensors.tmp-1", false}, // not hidden: not ours
		{".checkpoint.safetensors.tmp-", false},
		{".checkpoint.safetensors.tmp-12a", false},
		{".tmp-1", false},
		{".x.tmp1", false},
		{"", false},
	} {
		if got := IsTemp(c.name); got != c.want {
			t.Errorf("IsTemp(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRemoveStaleTemps leaves in a folder what a write killed before its rename
// leaves (the temporary file under the name Write really gives it), and
// requires RemoveStaleTemps to remove exactly such files.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "checkpoint.safetensors")
	// Capture the real temporary name: the write fails, as a killed one never renames.
	var tmpName string
	stop := errors.New("killed")
	err := Write(target, func(w io.Writer) error {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			tmpName = e.Name()
		}
		return stop
	})
	if !errors.Is(err, stop) || !IsTemp(tmpName) {
		t.Fatalf("temporary file %q (err %v) does not match IsTemp", tmpName, err)
	}
	keep := []string{"checkpoint.safetensors", "metrics.jsonl", "notes.tmp-1", ".hidden", ".x.tmp-abc"}
	stale := []string{tmpName, ".samples_t0.7.png.tmp-42"}
	for _, n := range append(slices.Clone(keep), stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder with a matching name, and a matching file inside a subfolder, stay.
	if err := os.Mkdir(filepath.Join(dir, ".d.tmp-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".d.tmp-1", ".f.tmp-2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(stale)
	if !slices.Equal(removed, stale) {
		t.Errorf("removed %v, want %v", removed, stale)
	}
	for _, n := range append(keep, ".d.tmp-1", filepath.Join(".d.tmp-1", ".f.tmp-2")) {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", n, err)
		}
	}
	if _, err := RemoveStaleTemps(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing folder: no error")
	}
}
