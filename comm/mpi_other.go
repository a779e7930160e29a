//go:build !(linux && (amd64 || arm64))

package comm

import "runtime"

// NewMPI is unavailable on this platform: the MPI implementation loads Open MPI with
// purego, which this package supports on linux/amd64 and linux/arm64 only.
func NewMPI(opts Options) (Comm, error) {
	return nil, newLibError("MPI is supported on linux/amd64 and linux/arm64, not on " + runtime.GOOS + "/" + runtime.GOARCH)
}
