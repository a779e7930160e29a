//go:build linux && (amd64 || arm64) && !nompi

package comm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// mpiBuilt says whether this build holds the MPI implementation.
const mpiBuilt = true

// Open MPI's ABI constants (mpi.h of Open MPI 4 and 5).
const (
	mpiSuccess        = 0
	mpiThreadFunneled = 1
	mpiInPlace        = 1 // MPI_IN_PLACE is (void *) 1
	mpiMaxErrorString = 256
)

// mpiOpen guards the one MPI communicator a process may hold: MPI_Init may be called
// once per process only.
var mpiOpen struct {
	sync.Mutex
	used bool
}

// mpiComm is the Comm of Open MPI's MPI_COMM_WORLD. Every MPI call except MPI_Abort
// runs on one goroutine locked to the OS thread that called MPI_Init_thread, so the
// communicator needs only MPI_THREAD_FUNNELED and may be used from any goroutine
// (calls are serialised in arrival order).
type mpiComm struct {
	path                                  string
	init, rank, size, allreduce, bcast    uintptr
	barrier, abort, finalize, errorString uintptr
	world, tFloat, tDouble, tByte, opSum  uintptr
	worldRank, worldSize, maxCount        int
	calls                                 chan func()
	mu                                    sync.Mutex // serialises the calls; guards closed
	closed                                bool
}

// NewMPI loads Open MPI's libmpi.so.40 (opts.Library, else the first of
// LibraryCandidates that loads), initialises MPI and returns the communicator of
// MPI_COMM_WORLD. Only one may be created per process. When the library cannot be
// loaded the error matches ErrNoLibrary and lists what was tried.
func NewMPI(opts Options) (Comm, error) {
	mpiOpen.Lock()
	defer mpiOpen.Unlock()
	if mpiOpen.used {
		return nil, errors.New("comm: MPI was already initialised in this process (one communicator per process)")
	}
	c := &mpiComm{maxCount: math.MaxInt32}
	if opts.MaxCount > 0 && opts.MaxCount < c.maxCount {
		c.maxCount = opts.MaxCount
	}
	if err := c.load(opts.Library); err != nil {
		return nil, err
	}
	mpiOpen.used = true // MPI_Init cannot be repeated, even after a failure

	c.calls = make(chan func())
	started := make(chan error)
	go c.worker(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// load opens the library and resolves its functions and handles.
func (c *mpiComm) load(explicit string) error {
	var tried []string
	var lib uintptr
	for _, p := range LibraryCandidates(explicit, runtime.GOARCH, os.Getenv("OPAL_PREFIX")) {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			lib, c.path = h, p
			break
		}
		tried = append(tried, oneLine(err.Error()))
	}
	if lib == 0 {
		return newLibError("tried " + strings.Join(tried, "; "))
	}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"MPI_Init_thread", &c.init}, {"MPI_Comm_rank", &c.rank}, {"MPI_Comm_size", &c.size},
		{"MPI_Allreduce", &c.allreduce}, {"MPI_Bcast", &c.bcast}, {"MPI_Barrier", &c.barrier},
		{"MPI_Abort", &c.abort}, {"MPI_Finalize", &c.finalize}, {"MPI_Error_string", &c.errorString},
		// Open MPI's predefined handles are the addresses of global structs.
		{"ompi_mpi_comm_world", &c.world}, {"ompi_mpi_float", &c.tFloat}, {"ompi_mpi_double", &c.tDouble},
		{"ompi_mpi_byte", &c.tByte}, {"ompi_mpi_op_sum", &c.opSum},
	} {
		a, err := purego.Dlsym(lib, s.name)
		if err != nil || a == 0 {
			return fmt.Errorf("comm: %s has no symbol %s (is it Open MPI's %s?): %v", c.path, s.name, LibName, err)
		}
		*s.dst = a
	}
	return nil
}

// oneLine joins the lines of s.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// worker initialises MPI on its own locked OS thread, reports the outcome on started,
// then runs the calls sent to c.calls until the channel is closed.
func (c *mpiComm) worker(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	var provided, rank, size int32
	r, _, _ := purego.SyscallN(c.init, 0, 0, mpiThreadFunneled, uintptr(unsafe.Pointer(&provided)))
	err := c.check("MPI_Init_thread", r)
	if err == nil {
		r, _, _ = purego.SyscallN(c.rank, c.world, uintptr(unsafe.Pointer(&rank)))
		err = c.check("MPI_Comm_rank", r)
	}
	if err == nil {
		r, _, _ = purego.SyscallN(c.size, c.world, uintptr(unsafe.Pointer(&size)))
		err = c.check("MPI_Comm_size", r)
	}
	c.worldRank, c.worldSize = int(rank), int(size)
	started <- err
	if err != nil {
		return
	}
	for f := range c.calls {
		f()
	}
}

// check turns an MPI return code (the low 32 bits of r1) into an error.
func (c *mpiComm) check(what string, r1 uintptr) error {
	code := int32(r1)
	if code == mpiSuccess {
		return nil
	}
	var buf [mpiMaxErrorString + 1]byte
	var n int32
	msg := "unknown error"
	if r, _, _ := purego.SyscallN(c.errorString, uintptr(code), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n))); int32(r) == mpiSuccess && n > 0 && int(n) <= mpiMaxErrorString {
		msg = string(buf[:n])
	}
	return fmt.Errorf("comm: %s failed on rank %d: MPI error %d: %s", what, c.worldRank, code, msg)
}

// do runs f on the MPI thread and returns its error.
// Holding c.mu for the whole call serialises the callers and keeps Close from closing
// c.calls under a pending send.
func (c *mpiComm) do(what string, f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doLocked(what, f)
}

// doLocked is do with c.mu held by the caller.
func (c *mpiComm) doLocked(what string, f func() error) error {
	if c.closed {
		return fmt.Errorf("comm: %s on a closed MPI communicator", what)
	}
	res := make(chan error, 1)
	c.calls <- func() { res <- f() }
	return <-res
}

func (c *mpiComm) Rank() int       { return c.worldRank }
func (c *mpiComm) Size() int       { return c.worldSize }
func (c *mpiComm) Backend() string { return "mpi" }

// allReduce sums n elements of elemSize bytes at p in place, in chunks of maxCount.
func (c *mpiComm) allReduce(what string, p unsafe.Pointer, n, elemSize int, dtype uintptr) error {
	if n == 0 {
		return nil
	}
	return c.do(what, func() error {
		return chunks(n, c.maxCount, func(off, k int) error {
			q := unsafe.Add(p, off*elemSize)
			r, _, _ := purego.SyscallN(c.allreduce, mpiInPlace, uintptr(q), uintptr(k), dtype, c.opSum, c.world)
			return c.check(what, r)
		})
	})
}

// broadcast copies n elements at p from root, in chunks of maxCount.
func (c *mpiComm) broadcast(what string, p unsafe.Pointer, n, elemSize int, dtype uintptr, root int) error {
	if err := checkRoot(root, c.worldSize); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return c.do(what, func() error {
		return chunks(n, c.maxCount, func(off, k int) error {
			q := unsafe.Add(p, off*elemSize)
			r, _, _ := purego.SyscallN(c.bcast, uintptr(q), uintptr(k), dtype, uintptr(root), c.world)
			return c.check(what, r)
		})
	})
}

func (c *mpiComm) AllReduceSumFloat32(buf []float32) error {
	err := c.allReduce("MPI_Allreduce(float32)", unsafe.Pointer(unsafe.SliceData(buf)), len(buf), 4, c.tFloat)
	runtime.KeepAlive(buf)
	return err
}

func (c *mpiComm) AllReduceSumFloat64(buf []float64) error {
	err := c.allReduce("MPI_Allreduce(float64)", unsafe.Pointer(unsafe.SliceData(buf)), len(buf), 8, c.tDouble)
	runtime.KeepAlive(buf)
	return err
}

func (c *mpiComm) BroadcastFloat32(buf []float32, root int) error {
	err := c.broadcast("MPI_Bcast(float32)", unsafe.Pointer(unsafe.SliceData(buf)), len(buf), 4, c.tFloat, root)
	runtime.KeepAlive(buf)
	return err
}

func (c *mpiComm) BroadcastFloat64(buf []float64, root int) error {
	err := c.broadcast("MPI_Bcast(float64)", unsafe.Pointer(unsafe.SliceData(buf)), len(buf), 8, c.tDouble, root)
	runtime.KeepAlive(buf)
	return err
}

func (c *mpiComm) BroadcastBytes(buf []byte, root int) error {
	err := c.broadcast("MPI_Bcast(bytes)", unsafe.Pointer(unsafe.SliceData(buf)), len(buf), 1, c.tByte, root)
	runtime.KeepAlive(buf)
	return err
}

func (c *mpiComm) Barrier() error {
	return c.do("MPI_Barrier", func() error {
		r, _, _ := purego.SyscallN(c.barrier, c.world)
		return c.check("MPI_Barrier", r)
	})
}

// Abort calls MPI_Abort directly on the caller's thread, not through the MPI thread,
// which may be blocked in a collective that will never complete: it is the last
// resort of a failing rank, and Open MPI's runtime then kills every rank.
func (c *mpiComm) Abort(code int) {
	purego.SyscallN(c.abort, c.world, uintptr(code))
	os.Exit(code) // MPI_Abort does not return; this is a guard
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	err := c.doLocked("MPI_Finalize", func() error {
		r, _, _ := purego.SyscallN(c.finalize)
		return c.check("MPI_Finalize", r)
	})
	c.closed = true
	close(c.calls)
	return err
}
