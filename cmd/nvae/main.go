// Command nvae trains, evaluates and samples NVAE models, imports NVIDIA's released
// checkpoints, checks parity with the official implementation and benchmarks the
// engine. Run `nvae help` for the list of subcommands and `nvae CMD -h` for the flags
// of one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// command is one subcommand of nvae.
type command struct {
	name    string
	summary string
	// run parses args (after the subcommand name) and does the work. Returning
	// errUsage prints nothing more; other errors are printed as one line.
	run func(args []string, stdout io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions.
func register(c *command) { commands[c.name] = c }

// errUsage reports bad arguments whose message was already printed by the flag set.
var errUsage = errors.New("usage")

// exitCode is returned by a command to choose a non-zero status without a message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nvae <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'nvae <command> -h' for the flags of a command.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errOut receives usage messages of the flag sets (the stderr given to run).
var errOut io.Writer = os.Stderr

func run(args []string, stdout, stderr io.Writer) int {
	errOut = stderr
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nvae: unknown command %q (run 'nvae help')\n", args[0])
		return 2
	}
	err := c.run(args[1:], stdout)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "nvae %s: %s\n", c.name, strings.TrimSpace(err.Error()))
	return 1
}

// newFlags returns a flag set for a subcommand that reports errors instead of
// exiting and prints its usage to stderr.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("nvae "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nvae %s %s\n\nflags:\n", name, synopsis)
		printDefaults(fs)
	}
	return fs
}

// printDefaults is fs.PrintDefaults without the deprecated aliases.
func printDefaults(fs *flag.FlagSet) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if _, old := f.Value.(*deprecatedBool); !old {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	shown.PrintDefaults()
}

// deprecatedBool is a boolean flag kept under an old name: setting it sets the new
// flag's variable and prints a one-line notice. Usage messages leave it out.
type deprecatedBool struct {
	dst      *bool
	old, new string
}

func (d *deprecatedBool) String() string {
	if d == nil || d.dst == nil {
		return "false"
	}
	return fmt.Sprint(*d.dst)
}

func (d *deprecatedBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*d.dst = v
	fmt.Fprintf(errOut, "nvae: --%s is deprecated, use --%s\n", d.old, d.new)
	return nil
}

func (d *deprecatedBool) IsBoolFlag() bool { return true }

// addRecomputeCellsFlag defines --recompute_cells into dst, and its former name
// --checkpoint_cells as a deprecated alias.
func addRecomputeCellsFlag(fs *flag.FlagSet, dst *bool) {
	fs.BoolVar(dst, "recompute_cells", false, "recompute each cell's forward pass during backward: less memory, about a third more compute, same results")
	fs.Var(&deprecatedBool{dst: dst, old: "checkpoint_cells", new: "recompute_cells"}, "checkpoint_cells", "deprecated name of --recompute_cells")
}

// parseFlags parses args and rejects stray positional arguments beyond want.
func parseFlags(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != want {
		fmt.Fprintf(fs.Output(), "nvae %s: want %d positional argument(s), got %d\n", strings.TrimPrefix(fs.Name(), "nvae "), want, fs.NArg())
		fs.Usage()
		return errUsage
	}
	return nil
}
