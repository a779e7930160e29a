package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/nvae-go/nvae/model/parity"
)

// runParity implements `nvae parity DIR`: replay a fixture directory recorded from the official
// code and compare every quantity; it fails when any tolerance is exceeded.
func runParity(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: nvae parity DIR")
	}
	rep, err := parity.Run(args[0])
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if f := rep.Failed(); len(f) > 0 {
		return fmt.Errorf("parity: %d of %d checks exceed their tolerance", len(f), len(rep.Checks))
	}
	fmt.Fprintf(stdout, "all %d checks pass\n", len(rep.Checks))
	return nil
}
