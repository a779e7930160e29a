package comm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/internal/testutil"
)

// These tests run the mpitest program (internal/mpitest) under a real `mpirun -np 2`.
// They skip when mpirun is not installed, except in CI (CI set), where that is a
// failure: .ci/run installs Open MPI, so a missing mpirun there is a broken setup.

// mpiTimeout bounds a run of the program outside mpirun.
const mpiTimeout = testutil.MPITimeout

// buildProg builds internal/mpitest once per test binary and returns its path.
func buildProg(t testing.TB) string { return testutil.Build(t, "./internal/mpitest") }

// runMPI runs the mpitest program with args under mpirun with np processes
// (testutil.RunMPI: skipped without mpirun unless CI is set, failed on a hang).
func runMPI(t testing.TB, np int, args ...string) (string, error) {
	t.Helper()
	testutil.NeedMPI(t)
	return testutil.RunMPI(t, np, nil, buildProg(t), args...)
}

// TestMPICollectives checks all-reduce (float32, float64, a 12 MB buffer), broadcast
// from both ranks and barrier, with exact expected values computed by each rank; then
// again with MPI calls limited to 1000 elements, so that every buffer is chunked.
func TestMPICollectives(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "check"},
		{"-mode", "check", "-maxcount", "1000", "-big", "1000003"},
	} {
		out, err := runMPI(t, 2, args...)
		if err != nil {
			t.Fatalf("mpirun -np 2 mpitest %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, want := range []string{"rank 0 of 2 ok", "rank 1 of 2 ok"} {
			if !strings.Contains(out, want) {
				t.Fatalf("mpitest %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
}

// TestMPIRankFailure checks that a failing rank ends the whole job, not a hang: rank 1
// calls Fatal while rank 0 waits in a barrier (the job must exit non-zero with a
// message naming rank 1), and rank 1 exits without a word while rank 0 waits.
func TestMPIRankFailure(t *testing.T) {
	out, err := runMPI(t, 2, "-mode", "fail")
	if err == nil {
		t.Fatalf("the job with a failing rank exited 0:\n%s", out)
	}
	if !strings.Contains(out, "rank 1: injected failure") {
		t.Fatalf("output does not name the failing rank:\n%s", out)
	}
	if strings.Contains(out, "barrier returned") {
		t.Fatalf("rank 0 left the barrier although rank 1 failed:\n%s", out)
	}
	out, err = runMPI(t, 2, "-mode", "die")
	if err == nil {
		t.Fatalf("the job with a dead rank exited 0:\n%s", out)
	}
	if strings.Contains(out, "barrier returned") {
		t.Fatalf("rank 0 left the barrier although rank 1 died:\n%s", out)
	}
}

// TestMPILibraryMissingProcess runs the program as mpirun would start it (Open MPI's
// variables set) with NVAE_MPI_LIB naming a missing file: it must exit with one line
// naming libmpi.so.40 and openmpi-bin. It needs no MPI installed.
func TestMPILibraryMissingProcess(t *testing.T) {
	if !mpiBuilt {
		t.Skip("built without the MPI implementation")
	}
	prog, dir := buildProg(t), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), mpiTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "-mode", "open")
	cmd.Env = append(os.Environ(), "OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2", BackendEnv+"=", LibEnv+"="+filepath.Join(dir, "missing", LibName))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started as rank 1 of 2 with no library, the program exited 0:\n%s", out)
	}
	msg := strings.TrimRight(string(out), "\n")
	if strings.Contains(msg, "\n") {
		t.Fatalf("error is not one line:\n%s", msg)
	}
	for _, want := range []string{LibName, "openmpi-bin", "rank 1 of 2"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not mention %q", msg, want)
		}
	}
}

// BenchmarkMPIAllReduce runs the all-reduce bandwidth table (1 MB to 128 MB float32
// buffers) under mpirun -np 2 and logs it; run it with
//
//	go test -run '^$' -bench MPIAllReduce -benchtime 1x ./comm/
func BenchmarkMPIAllReduce(b *testing.B) {
	for i := 0; i < b.N; i++ {
		out, err := runMPI(b, 2, "-mode", "bench")
		if err != nil {
			b.Fatalf("mpirun -np 2 mpitest -mode bench: %v\n%s", err, out)
		}
		if i == 0 {
			b.Log("\n" + out)
		}
	}
}
