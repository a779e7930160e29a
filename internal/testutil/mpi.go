package testutil

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MPITimeout bounds every mpirun of RunMPI: a job that hangs fails the test instead.
const MPITimeout = 120 * time.Second

// NeedMPI returns the path of mpirun. It skips the test when mpirun is not installed or
// this build has no MPI implementation, except in CI (CI set), where a missing mpirun
// is a failure: .ci/run installs Open MPI.
func NeedMPI(t testing.TB) string {
	t.Helper()
	if !mpiBuilt {
		t.Skipf("built without the MPI implementation (linux/amd64 and linux/arm64 only, not with the nompi tag; this is %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but mpirun is not installed (.ci/run installs openmpi-bin): %v", err)
		}
		t.Skip("mpirun not installed (apt-get install openmpi-bin); set CI to make this a failure")
	}
	return mpirun
}

var built struct {
	sync.Mutex
	paths map[string]string
}

// Build builds the main package pkg (a path relative to the test's directory, such as
// "./internal/dptest" or ".") with CGO_ENABLED=0, once per test binary, and returns the
// program's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if p, ok := built.paths[pkg]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "nvae-mpi-prog")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prog")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	if built.paths == nil {
		built.paths = map[string]string{}
	}
	built.paths[pkg] = path
	return path
}

// RunMPI runs prog with args under `mpirun -np np` (as root if need be, oversubscribed,
// unbound) and returns its combined output and error; it fails the test if the job
// outlives MPITimeout. The variables that choose comm's backend and library are dropped
// from the environment, and extraEnv is added.
func RunMPI(t testing.TB, np int, extraEnv []string, prog string, args ...string) (string, error) {
	t.Helper()
	mpirun := NeedMPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), MPITimeout)
	defer cancel()
	full := append([]string{"--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", strconv.Itoa(np), prog}, args...)
	cmd := exec.CommandContext(ctx, mpirun, full...)
	cmd.WaitDelay = 5 * time.Second
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NVAE_COMM=") && !strings.HasPrefix(kv, "NVAE_MPI_LIB=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, extraEnv...)
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("mpirun -np %d %s did not end within %v (hang):\n%s", np, strings.Join(args, " "), MPITimeout, out)
	}
	return string(out), err
}
