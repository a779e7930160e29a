//go:build !(linux && (amd64 || arm64)) || nompi

package comm

import (
	"errors"
	"runtime"
)

// mpiBuilt says whether this build holds the MPI implementation.
const mpiBuilt = false

// NewMPI is unavailable in this build: the MPI implementation loads Open MPI with
// purego, which this package supports on linux/amd64 and linux/arm64 only, and the
// nompi build tag leaves it out (and purego with it, for a statically linked binary).
func NewMPI(opts Options) (Comm, error) {
	return nil, errors.New("comm: MPI requested, but this binary was built without MPI support (it needs linux/amd64 or linux/arm64 without the nompi build tag; this is " + runtime.GOOS + "/" + runtime.GOARCH + ")")
}
