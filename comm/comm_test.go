package comm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSingle(t *testing.T) {
	c := Single()
	if c.Rank() != 0 || c.Size() != 1 || c.Backend() != "single" {
		t.Fatalf("Single: rank %d size %d backend %q", c.Rank(), c.Size(), c.Backend())
	}
	f32 := []float32{1, -2, 3.5}
	f64 := []float64{4, 5}
	by := []byte{9, 8}
	for _, err := range []error{
		c.AllReduceSumFloat32(f32), c.AllReduceSumFloat64(f64), AverageFloat32(c, f32), AverageFloat64(c, f64),
		c.BroadcastFloat32(f32, 0), c.BroadcastFloat64(f64, 0), c.BroadcastBytes(by, 0), c.Barrier(), c.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(f32, []float32{1, -2, 3.5}) || !reflect.DeepEqual(f64, []float64{4, 5}) || !reflect.DeepEqual(by, []byte{9, 8}) {
		t.Fatalf("Single changed its buffers: %v %v %v", f32, f64, by)
	}
	if err := c.BroadcastFloat32(f32, 1); err == nil || !strings.Contains(err.Error(), "root 1") {
		t.Fatalf("broadcast from root 1 of 1: err = %v", err)
	}
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		total, max int
		want       [][2]int
	}{
		{0, 4, nil},
		{3, 4, [][2]int{{0, 3}}},
		{8, 4, [][2]int{{0, 4}, {4, 4}}},
		{10, 4, [][2]int{{0, 4}, {4, 4}, {8, 2}}},
		{10, 0, [][2]int{{0, 10}}},
	} {
		var got [][2]int
		if err := chunks(tc.total, tc.max, func(off, n int) error { got = append(got, [2]int{off, n}); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("chunks(%d, %d) = %v, want %v", tc.total, tc.max, got, tc.want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := chunks(10, 3, func(off, n int) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("chunks did not stop at the first error: err %v after %d calls", err, calls)
	}
}

func TestDetectLaunch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Launch
		ok      bool
		wantErr string
	}{
		{"none", nil, Launch{}, false, ""},
		{"slurm without PMI is not a launch", map[string]string{"SLURM_PROCID": "1", "SLURM_NTASKS": "4"}, Launch{}, false, ""},
		{"open mpi", map[string]string{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "PMIX_RANK": "1"}, Launch{"Open MPI", 1, 2}, true, ""},
		{"pmix under slurm", map[string]string{"PMIX_RANK": "3", "SLURM_NTASKS": "8"}, Launch{"PMIx", 3, 8}, true, ""},
		{"pmix without size", map[string]string{"PMIX_RANK": "0"}, Launch{"PMIx", 0, 0}, true, ""},
		{"pmi", map[string]string{"PMI_RANK": "2", "PMI_SIZE": "3"}, Launch{"PMI", 2, 3}, true, ""},
		{"malformed rank", map[string]string{"OMPI_COMM_WORLD_RANK": "x", "OMPI_COMM_WORLD_SIZE": "2"}, Launch{}, false, "OMPI_COMM_WORLD_RANK"},
		{"negative size", map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "-2"}, Launch{}, false, "OMPI_COMM_WORLD_SIZE"},
		{"rank beyond size", map[string]string{"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "2"}, Launch{}, false, "rank 2 of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := DetectLaunch(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.ok || got != tc.want {
				t.Fatalf("DetectLaunch = %+v, %v, %v; want %+v, %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}

// clearLaunchEnv unsets, for the test, every variable DetectLaunch and Open read.
func clearLaunchEnv(t *testing.T) {
	for _, k := range []string{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_NTASKS", "PMI_RANK", "PMI_SIZE", BackendEnv, LibEnv} {
		t.Setenv(k, "")
	}
}

func TestFromEnvSingle(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1", LibEnv: "/nonexistent/" + LibName},
		{"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", BackendEnv: "single"},
	} {
		clearLaunchEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		c, err := FromEnv()
		if err != nil {
			t.Fatalf("env %v: %v", env, err)
		}
		if c.Backend() != "single" || c.Size() != 1 {
			t.Fatalf("env %v: backend %q size %d, want single of 1", env, c.Backend(), c.Size())
		}
	}
}

// TestFromEnvLibraryMissing is the error path of a run started by mpirun on a machine
// without the library: one line naming libmpi.so.40 and the Debian package.
func TestFromEnvLibraryMissing(t *testing.T) {
	if !mpiBuilt {
		t.Skip("built without the MPI implementation")
	}
	clearLaunchEnv(t)
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv(LibEnv, "/nonexistent/dir/"+LibName)
	c, err := FromEnv()
	if err == nil {
		c.Close()
		t.Fatal("FromEnv with a missing library succeeded")
	}
	msg := err.Error()
	for _, want := range []string{LibName, "openmpi-bin", "rank 1 of 2", "/nonexistent/dir/" + LibName, LibEnv} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !errors.Is(err, ErrNoLibrary) {
		t.Errorf("error %v does not match ErrNoLibrary", err)
	}
}

func TestOpenBackends(t *testing.T) {
	clearLaunchEnv(t)
	if _, err := Open("nccl"); err == nil || !strings.Contains(err.Error(), "nccl") {
		t.Fatalf("Open(nccl): %v", err)
	}
	if _, err := Open("tcp"); err == nil || !strings.Contains(err.Error(), `"tcp"`) {
		t.Fatalf("Open(tcp): %v", err)
	}
	t.Setenv(LibEnv, "/nonexistent/"+LibName)
	if _, err := Open("mpi"); err == nil || (mpiBuilt && !errors.Is(err, ErrNoLibrary)) {
		t.Fatalf("Open(mpi) with a missing library: %v", err)
	}
}

func TestLibraryCandidates(t *testing.T) {
	if got := LibraryCandidates("/x/libmpi.so.40", "amd64", "/opt/o"); !reflect.DeepEqual(got, []string{"/x/libmpi.so.40"}) {
		t.Fatalf("explicit path: %v", got)
	}
	got := LibraryCandidates("", "arm64", "/opt/o")
	want := []string{LibName, "/opt/o/lib/" + LibName, "/usr/lib/aarch64-linux-gnu/" + LibName, "/usr/lib/aarch64-linux-gnu/openmpi/lib/" + LibName,
		"/usr/lib64/" + LibName, "/usr/lib64/openmpi/lib/" + LibName, "/usr/local/lib/" + LibName, "/opt/openmpi/lib/" + LibName}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LibraryCandidates = %v\nwant %v", got, want)
	}
}
