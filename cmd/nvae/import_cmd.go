package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/tensorfile"
)

func init() {
	register(&command{name: "import", summary: "convert NVIDIA's checkpoint.pt into this project's checkpoint format", run: runImport})
}

func runImport(args []string, stdout io.Writer) error {
	fs := newFlags("import", "CHECKPOINT.pt OUT")
	if err := parseFlags(fs, args, 2); err != nil {
		return err
	}
	in, out := fs.Arg(0), fs.Arg(1)
	ck, err := tensorfile.ReadTorch(in)
	if err != nil {
		return err
	}
	m, err := modelfile.FromTorch(ck)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		out = filepath.Join(out, modelfile.RunFile)
	}
	extra := map[string]string{"imported_from": filepath.Base(in)}
	if ck.HasEpoch {
		extra["epoch"] = fmt.Sprint(ck.Epoch)
	}
	if ck.HasGlobalStep {
		extra["global_step"] = fmt.Sprint(ck.GlobalStep)
	}
	if err := modelfile.Save(out, m, nil, extra); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s (%s, %d parameters) into %s\n", in, m.Cfg.Dataset, m.NumParams(), out)
	return nil
}
