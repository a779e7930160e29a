// Command nvae is the NVAE command-line tool.
package main

import (
	"fmt"
	"io"
	"os"
)

// commands maps subcommand names to their implementations.
var commands = map[string]func(args []string, stdout io.Writer) error{
	"parity": runParity,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nvae <command> [args]; commands: parity")
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "nvae: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nvae:", err)
		os.Exit(1)
	}
}
