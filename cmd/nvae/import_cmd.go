package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvae-go/nvae/internal/runlock"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/tensorfile"
)

func init() {
	register(&command{name: "import", summary: "convert NVIDIA's checkpoint.pt into this project's checkpoint format", run: runImport})
}

func runImport(args []string, stdout io.Writer) error {
	fs := newFlags("import", "[--force] CHECKPOINT.pt OUT (OUT: a run directory, created if needed, or a FILE.safetensors)")
	force := fs.Bool("force", false, "replace an existing checkpoint at OUT (refused without it)")
	if err := parseFlags(fs, args, 2); err != nil {
		return err
	}
	in, out := fs.Arg(0), fs.Arg(1)
	out, runDir, err := importTarget(out)
	if err != nil {
		return err
	}
	if err := refuseOverwrite(out, *force); err != nil {
		return err
	}
	ck, err := tensorfile.ReadTorch(in)
	if err != nil {
		return err
	}
	m, err := modelfile.FromTorch(ck)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	extra := map[string]string{"imported_from": filepath.Base(in)}
	if ck.HasEpoch {
		extra["epoch"] = fmt.Sprint(ck.Epoch)
	}
	if ck.HasGlobalStep {
		extra["global_step"] = fmt.Sprint(ck.GlobalStep)
	}
	if runDir != "" {
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return fmt.Errorf("creating the run directory: %w", err)
		}
		lock, err := runlock.Acquire(runDir)
		if err != nil {
			return err
		}
		defer lock.Release()
		// a run may have written a checkpoint since the first check
		if err := refuseOverwrite(out, *force); err != nil {
			return err
		}
	}
	if err := modelfile.Save(out, m, nil, extra); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s (%s, %d parameters) into %s\n", in, m.Cfg.Dataset, m.NumParams(), out)
	return nil
}

// importTarget says where 'nvae import' writes: OUT is a run directory (returned as
// runDir, with the file inside it) when it is an existing directory, ends in a path
// separator, or does not end in .safetensors; otherwise it is the file itself.
func importTarget(out string) (file, runDir string, err error) {
	if out == "" {
		return "", "", errors.New("empty output path")
	}
	st, err := os.Stat(out)
	isDir := err == nil && st.IsDir()
	if isDir || strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) || !strings.HasSuffix(out, ".safetensors") {
		if err == nil && !isDir {
			return "", "", fmt.Errorf("%s is a file without the .safetensors suffix; give a run directory or a FILE.safetensors", out)
		}
		return filepath.Join(out, modelfile.RunFile), filepath.Clean(out), nil
	}
	return out, "", nil
}

// refuseOverwrite fails when path exists and force is not set, naming the file.
func refuseOverwrite(path string, force bool) error {
	_, err := os.Stat(path)
	switch {
	case err == nil && !force:
		return fmt.Errorf("%s already exists: give --force to replace it", path)
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("checking %s: %w", path, err)
}
