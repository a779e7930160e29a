//go:build !(linux && (amd64 || arm64)) || nompi

package testutil

// mpiBuilt says whether this build holds comm's MPI implementation.
const mpiBuilt = false
