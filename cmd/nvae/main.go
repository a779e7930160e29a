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
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/comm"
)

// command is one subcommand of nvae.
type command struct {
	name    string
	summary string
	// run parses args (after the subcommand name) and does the work. Returning
	// errUsage prints nothing more; other errors are printed as one line.
	run func(args []string, stdout io.Writer) error
	// mpi reports whether the command, with these arguments, runs as one rank of a
	// data-parallel job (under mpirun); nil means never.
	mpi func(args []string) bool
}

// job is the communicator of this process (comm.Single unless launched by mpirun for a
// command that supports it); run sets it once.
var job = comm.Single()

// mpiAlways is the mpi of the commands that always support data-parallel runs.
func mpiAlways([]string) bool { return true }

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
	l, launched, err := comm.DetectLaunch(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "nvae %s: %v\n", c.name, err)
		return 1
	}
	job = comm.Single()
	if launched && l.Size != 1 {
		if c.mpi == nil || !c.mpi(args[1:]) {
			name := c.name
			if c.name == "bench" && len(args) > 1 {
				name += " " + args[1]
			}
			fmt.Fprintf(stderr, "nvae %s: started by %s as rank %d of a job of %d processes, but this command runs as one process only "+
				"(under mpirun: train, eval, sample --readjust_bn, bench train); run it without mpirun\n", name, l.Launcher, l.Rank, l.Size)
			return 1
		}
		setThreads(l)
		if job, err = comm.FromEnv(); err != nil {
			fmt.Fprintf(stderr, "rank %d: nvae %s: %v\n", l.Rank, c.name, err)
			return 1
		}
		if job.Rank() != 0 {
			stdout = io.Discard // rank 0 speaks for the job
		}
	}
	err = runCommand(c, args[1:], stdout)
	if job.Size() > 1 {
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			// End every rank, not only this one, naming it.
			comm.Fatal(job, errors.New(errorLine(c.name, firstArg(args[1:]), err)))
		}
		if cerr := job.Close(); cerr != nil {
			fmt.Fprintf(stderr, "rank %d: nvae %s: %v\n", job.Rank(), c.name, cerr)
			return 1
		}
	}
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
	fmt.Fprintln(stderr, errorLine(c.name, firstArg(args[1:]), err))
	return 1
}

// errorLine is the CLI's one-line error of command name: "nvae NAME: message" (the
// lines of a joined error separated by "; "). A message that already names the
// command is not prefixed twice: "serve: refusing…" from the package of the same
// name under nvae serve, or "bench train: …" under nvae bench train (sub is the
// command's first argument, which may name a subcommand).
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func errorLine(name, sub string, err error) string {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	if rest, ok := strings.CutPrefix(msg, name+": "); ok {
		return "nvae " + name + ": " + rest
	}
	if sub != "" && !strings.HasPrefix(sub, "-") && strings.HasPrefix(msg, name+" "+sub+": ") {
		return "nvae " + msg
	}
	return "nvae " + name + ": " + msg
}

// runCommand runs c, turning a panic (a bug: bad input must give an error) into an
// error of one line instead of a stack trace. NVAE_PANIC=1 lets panics through, with
// their trace, for debugging.
func runCommand(c *command, args []string, stdout io.Writer) (err error) {
	if os.Getenv("NVAE_PANIC") != "1" {
		defer func() {
			if r := recover(); r != nil {
				msg := strings.ReplaceAll(fmt.Sprint(r), "\n", " ")
				err = fmt.Errorf("internal error: %s (this is a bug; NVAE_PANIC=1 shows where)", msg)
			}
		}()
	}
	return c.run(args, stdout)
}

// synopses holds the synopsis line of each subcommand's flag set, for its help.
var synopses = map[*flag.FlagSet]string{}

// threadsEnv are the environment variables that give the number of ranks on this
// machine, by launcher.
var threadsEnv = []string{"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}

// setThreads shares the machine's cores between the ranks that run on it: unless
// GOMAXPROCS is set, the engine's worker pool of each rank gets cores/ranks-on-this-
// machine threads (at least 1), so ranks do not fight over cores. It must run before
// the pool's first use.
func setThreads(l comm.Launch) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	for _, name := range threadsEnv {
		if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil && n > 0 {
			runtime.GOMAXPROCS(max(1, runtime.NumCPU()/n))
			return
		}
	}
}

// newFlags returns a flag set for a subcommand that reports errors instead of
// exiting. parseFlags prints its full help for -h only; a bad flag gets one line.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("nvae "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	synopses[fs] = synopsis
	return fs
}

// printHelp writes the usage line and every flag of fs to errOut.
func printHelp(fs *flag.FlagSet) {
	fmt.Fprintf(errOut, "usage: %s %s\n\nflags:\n", fs.Name(), synopses[fs])
	fs.SetOutput(errOut)
	printDefaults(fs)
	fs.SetOutput(io.Discard)
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

// precisionFlag is the flag.Value of --precision.
type precisionFlag struct{ dst *ad.Precision }

func (f precisionFlag) String() string {
	if f.dst == nil {
		return ad.FP32.String()
	}
	return f.dst.String()
}

func (f precisionFlag) Set(s string) error {
	p, err := ad.ParsePrecision(s)
	if err != nil {
		return err
	}
	*f.dst = p
	return nil
}

// addPrecisionFlag defines --precision fp32|bf16 into dst. It is a run-time choice
// (not saved with a run: a resumed run may change it).
func addPrecisionFlag(fs *flag.FlagSet, dst *ad.Precision) {
	fs.Var(precisionFlag{dst}, "precision", "arithmetic of the convolutions: fp32, or bf16 (mixed precision: bf16 products accumulated in float32, convolution outputs kept in bf16 for backward; parameters, statistics and losses stay float32). A run-time choice, not saved: a resumed run may change it")
}

// parseFlags parses args and rejects stray positional arguments beyond want. A bad
// flag prints one line naming it and pointing at -h; -h prints the full help.
func parseFlags(fs *flag.FlagSet, args []string, want int) error {
	hint := fmt.Sprintf("(run '%s -h' for help)", fs.Name())
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs)
			return err
		}
		fmt.Fprintf(errOut, "%s: %v %s\n", fs.Name(), err, hint)
		return errUsage
	}
	if fs.NArg() != want {
		fmt.Fprintf(errOut, "%s: want %d positional argument(s), got %d (%q) %s\n", fs.Name(), want, fs.NArg(), fs.Args(), hint)
		return errUsage
	}
	return nil
}
