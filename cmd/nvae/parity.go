package main

import (
	"fmt"
	"io"

	"github.com/nvae-go/nvae/model/parity"
)

func init() {
	register(&command{name: "parity", summary: "compare the model with a fixture directory recorded from the official code", run: runParity})
}

// runParity implements `nvae parity DIR`: replay a fixture directory recorded from the official
// code (laid out as F1/F2), print every quantity's max abs/rel error and tolerance, and exit
// with status 1 when any tolerance is exceeded.
func runParity(args []string, stdout io.Writer) error {
	fs := newFlags("parity", "DIR")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	rep, err := parity.Run(fs.Arg(0))
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if f := rep.Failed(); len(f) > 0 {
		return fmt.Errorf("%d of %d checks exceed their tolerance", len(f), len(rep.Checks))
	}
	fmt.Fprintf(stdout, "all %d checks pass\n", len(rep.Checks))
	return nil
}
