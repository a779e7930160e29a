package cpu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAssembly checks that each assembly generator, run afresh, writes its
// committed output byte for byte (so the .s files are never edited by hand and the
// generators do not rot).
func TestGeneratedAssembly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generators")
	}
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	for _, tc := range []struct{ gen, out string }{
		{"gemm_asmgen.go", "gemm_amd64.s"},
		{"conv_asmgen.go", "conv_taps_amd64.s"},
		{"peak_asmgen.go", "peak_amd64.s"},
	} {
		t.Run(tc.gen, func(t *testing.T) {
			want, err := os.ReadFile(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(gobin, "run", tc.gen)
			cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=", "CGO_ENABLED=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("go run %s: %v\n%s", tc.gen, err, stderr.Bytes())
			}
			if !bytes.Equal(got, want) {
				t.Errorf("go run %s does not reproduce %s (%d bytes, committed %d): run go generate", tc.gen, tc.out, len(got), len(want))
			}
		})
	}
}
