// Package comm is a small collective-communication layer for data-parallel training:
// every process (rank) of a job holds a Comm and uses it to sum buffers across all
// ranks, broadcast a buffer from one rank, wait for all ranks, or end the whole job.
//
// The package knows nothing of models or training. Two implementations exist today:
//
//   - Single, a job of one process, where every collective is a no-op;
//   - an Open MPI implementation (linux/amd64 and linux/arm64), which loads
//     libmpi.so.40 at run time with purego, so that binaries build with
//     CGO_ENABLED=0 and run single-process on machines without MPI. (purego makes
//     such a binary dynamically linked against the C library; the nompi build tag
//     leaves the MPI implementation out for a static binary.)
//
// FromEnv picks the implementation from the environment the launcher sets (mpirun,
// srun). Callers depend only on the Comm interface and on Open/FromEnv; a further
// implementation (NCCL for GPUs is the planned one) is added by implementing Comm and
// naming it in Open, without changing callers.
//
// Collectives must be called in the same order, with the same lengths and roots, on
// every rank; that is the caller's contract, as in MPI. An implementation may serialise
// the calls of several goroutines, but it cannot reorder them across ranks, so a program
// that reduces from a background goroutine (to overlap communication with compute) must
// issue its collectives from that one goroutine, in a fixed order.
package comm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Comm is a communicator over the ranks of a job. Every method except Rank, Size and
// Abort is a collective: all ranks must call it, in the same order.
type Comm interface {
	// Rank is this process's index in the job, in [0, Size()).
	Rank() int
	// Size is the number of processes in the job.
	Size() int
	// Backend names the implementation: "single" or "mpi".
	Backend() string

	// AllReduceSumFloat32 replaces buf, on every rank, with the element-wise sum of
	// buf over all ranks. All ranks must pass the same length.
	AllReduceSumFloat32(buf []float32) error
	// AllReduceSumFloat64 is AllReduceSumFloat32 for float64.
	AllReduceSumFloat64(buf []float64) error

	// BroadcastFloat32 copies root's buf into buf on every other rank.
	BroadcastFloat32(buf []float32, root int) error
	// BroadcastFloat64 is BroadcastFloat32 for float64.
	BroadcastFloat64(buf []float64, root int) error
	// BroadcastBytes is BroadcastFloat32 for bytes.
	BroadcastBytes(buf []byte, root int) error

	// Barrier returns once every rank has called it.
	Barrier() error

	// Abort ends the whole job (every rank) with the exit code, and does not return.
	// It is not a collective: one failing rank calls it alone, from any goroutine.
	Abort(code int)

	// Close releases the communicator (MPI_Finalize); it is a collective. Later calls
	// of the collectives fail. Closing twice is a no-op.
	Close() error
}

// Fatal prints "rank R: err" on standard error and ends the whole job with exit code 1
// through c.Abort, so that no other rank is left waiting in a collective. With a nil c
// it prints "rank 0: err" and exits. It does not return.
func Fatal(c Comm, err error) {
	rank := 0
	if c != nil {
		rank = c.Rank()
	}
	fmt.Fprintf(os.Stderr, "rank %d: %v\n", rank, err)
	if c != nil {
		c.Abort(1)
	}
	os.Exit(1)
}

// AverageFloat32 replaces buf, on every rank, with its element-wise mean over the
// ranks: an all-reduce sum followed by a division by Size.
func AverageFloat32(c Comm, buf []float32) error {
	if c.Size() == 1 {
		return nil
	}
	if err := c.AllReduceSumFloat32(buf); err != nil {
		return err
	}
	inv := 1 / float32(c.Size())
	for i := range buf {
		buf[i] *= inv
	}
	return nil
}

// AverageFloat64 is AverageFloat32 for float64.
func AverageFloat64(c Comm, buf []float64) error {
	if c.Size() == 1 {
		return nil
	}
	if err := c.AllReduceSumFloat64(buf); err != nil {
		return err
	}
	inv := 1 / float64(c.Size())
	for i := range buf {
		buf[i] *= inv
	}
	return nil
}

// single is the Comm of a one-process job.
type single struct{}

// Single returns the communicator of a job of one process: rank 0 of 1, where the
// collectives leave their buffers unchanged and Abort exits the process.
func Single() Comm { return single{} }

func (single) Rank() int                           { return 0 }
func (single) Size() int                           { return 1 }
func (single) Backend() string                     { return "single" }
func (single) AllReduceSumFloat32([]float32) error { return nil }
func (single) AllReduceSumFloat64([]float64) error { return nil }
func (single) BroadcastFloat32(_ []float32, root int) error {
	return checkRoot(root, 1)
}
func (single) BroadcastFloat64(_ []float64, root int) error {
	return checkRoot(root, 1)
}
func (single) BroadcastBytes(_ []byte, root int) error { return checkRoot(root, 1) }
func (single) Barrier() error                          { return nil }
func (single) Abort(code int)                          { os.Exit(code) }
func (single) Close() error                            { return nil }

// checkRoot reports a broadcast root outside [0, size).
func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("comm: broadcast root %d out of range for %d ranks", root, size)
	}
	return nil
}

// Options configures the MPI implementation.
type Options struct {
	// Library is the path of libmpi.so.40; empty searches the usual places (see
	// LibraryCandidates).
	Library string
	// MaxCount is the most elements passed to one MPI call; longer buffers are sent in
	// chunks. 0 means the MPI limit, the largest C int. Tests lower it to exercise the
	// chunking.
	MaxCount int
}

// LibName is the shared library the MPI implementation loads (Open MPI 4 and 5).
const LibName = "libmpi.so.40"

// LibEnv is the environment variable that names the MPI library's path, overriding
// the search.
const LibEnv = "NVAE_MPI_LIB"

// BackendEnv is the environment variable that chooses the implementation in FromEnv:
// "" or "auto" (detect the launcher), "single", "mpi".
const BackendEnv = "NVAE_COMM"

// ErrNoLibrary is matched (errors.Is) by the error of NewMPI when the MPI library
// cannot be loaded.
var ErrNoLibrary = errors.New("comm: cannot load the MPI library " + LibName)

// libError is the error of a failed library load. detail says what was tried and why
// each failed; msg is the whole message.
type libError struct{ msg, detail string }

// newLibError returns the error of a failed load with the given detail.
func newLibError(detail string) *libError {
	return &libError{msg: ErrNoLibrary.Error() + ": " + detail, detail: detail}
}

func (e *libError) Error() string        { return e.msg }
func (e *libError) Is(target error) bool { return target == ErrNoLibrary }

// Launch is what the environment says about how the process was started.
type Launch struct {
	// Launcher names the launcher: "Open MPI", "PMIx" or "PMI".
	Launcher string
	// Rank is this process's rank and Size the job's size; Size is 0 when the
	// environment does not give it.
	Rank, Size int
}

// DetectLaunch reads the launcher's variables through getenv (os.Getenv in a
// program): Open MPI's mpirun sets OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE; a
// PMIx launcher (srun --mpi=pmix) sets PMIX_RANK, with the size in SLURM_NTASKS under
// Slurm; a PMI launcher (srun --mpi=pmi2) sets PMI_RANK and PMI_SIZE. ok is false when
// none is set. A set but malformed variable is an error naming it.
func DetectLaunch(getenv func(string) string) (l Launch, ok bool, err error) {
	num := func(name string) (int, bool, error) {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			return 0, false, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, false, fmt.Errorf("comm: environment variable %s=%q is not a non-negative integer", name, s)
		}
		return v, true, nil
	}
	for _, c := range []struct{ launcher, rank, size string }{
		{"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
		{"PMIx", "PMIX_RANK", "SLURM_NTASKS"},
		{"PMI", "PMI_RANK", "PMI_SIZE"},
	} {
		r, rok, err := num(c.rank)
		if err != nil {
			return Launch{}, false, err
		}
		if !rok {
			continue
		}
		s, sok, err := num(c.size)
		if err != nil {
			return Launch{}, false, err
		}
		if sok && (s == 0 || r >= s) {
			return Launch{}, false, fmt.Errorf("comm: %s environment gives rank %d of %d (%s, %s)", c.launcher, r, s, c.rank, c.size)
		}
		return Launch{Launcher: c.launcher, Rank: r, Size: s}, true, nil
	}
	return Launch{}, false, nil
}

// FromEnv returns the communicator of this process, chosen by the environment:
// Open(os.Getenv(BackendEnv)). With no launcher detected, and no backend named, it is
// Single, so a plain run needs no MPI.
func FromEnv() (Comm, error) { return Open(os.Getenv(BackendEnv)) }

// Open returns the communicator of the named backend:
//
//   - "" or "auto": detect the launcher (DetectLaunch). Not launched, or launched as
//     a job of one process: Single. Launched with more processes: MPI, and an error
//     naming libmpi.so.40 and the Debian package openmpi-bin when it cannot be loaded.
//   - "single": Single, whatever the environment.
//   - "mpi": MPI, even as a singleton (MPI_Init without a launcher).
//   - "nccl": reserved for the GPU implementation; an error today.
//
// The library is the one named by NVAE_MPI_LIB, else the first found in
// LibraryCandidates.
func Open(backend string) (Comm, error) {
	opts := Options{Library: os.Getenv(LibEnv)}
	switch strings.ToLower(strings.TrimSpace(backend)) {
	case "", "auto":
	case "single":
		return Single(), nil
	case "mpi":
		return NewMPI(opts)
	case "nccl":
		return nil, errors.New("comm: backend nccl is not implemented yet (use mpi)")
	default:
		return nil, fmt.Errorf("comm: unknown backend %q in %s (want auto, single or mpi)", backend, BackendEnv)
	}
	l, ok, err := DetectLaunch(os.Getenv)
	if err != nil {
		return nil, err
	}
	if !ok || l.Size == 1 {
		return Single(), nil
	}
	c, err := NewMPI(opts)
	if err != nil {
		var le *libError
		if errors.As(err, &le) {
			of := ""
			if l.Size > 0 {
				of = fmt.Sprintf(" of %d", l.Size)
			}
			return nil, &libError{detail: le.detail, msg: fmt.Sprintf(
				"comm: started by %s as rank %d%s, but cannot load the MPI library %s (install the Debian package openmpi-bin, or set %s to its path): %s",
				l.Launcher, l.Rank, of, LibName, LibEnv, le.detail)}
		}
		return nil, err
	}
	if c.Rank() != l.Rank || (l.Size > 0 && c.Size() != l.Size) {
		err := fmt.Errorf("comm: MPI gives rank %d of %d but %s's environment says rank %d of %d", c.Rank(), c.Size(), l.Launcher, l.Rank, l.Size)
		c.Close()
		return nil, err
	}
	return c, nil
}

// chunks calls f(off, n) for consecutive pieces [off, off+n) of a buffer of length
// total, each at most max long (max <= 0 means unlimited), stopping at the first error.
func chunks(total, max int, f func(off, n int) error) error {
	if max <= 0 {
		max = total
	}
	for off := 0; off < total; off += max {
		if err := f(off, min(max, total-off)); err != nil {
			return err
		}
	}
	return nil
}

// LibraryCandidates lists where the MPI library is looked for, in order. A non-empty
// explicit path (NVAE_MPI_LIB) is the only candidate. Otherwise: the plain name
// through the dynamic loader's path (LD_LIBRARY_PATH, ld.so.cache), then
// $OPAL_PREFIX/lib when set, then the usual install directories of Debian/Ubuntu
// (multiarch), Red Hat, /usr/local and /opt/openmpi.
func LibraryCandidates(explicit, goarch, opalPrefix string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	c := []string{LibName}
	if opalPrefix != "" {
		c = append(c, opalPrefix+"/lib/"+LibName)
	}
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[goarch]
	if triplet != "" {
		c = append(c, "/usr/lib/"+triplet+"/"+LibName, "/usr/lib/"+triplet+"/openmpi/lib/"+LibName)
	}
	return append(c,
		"/usr/lib64/"+LibName,
		"/usr/lib64/openmpi/lib/"+LibName,
		"/usr/local/lib/"+LibName,
		"/opt/openmpi/lib/"+LibName,
	)
}
