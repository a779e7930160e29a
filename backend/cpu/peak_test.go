package cpu

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPeakFlopCount checks that each peak loop's flops per iteration, which
// PeakGFLOPS multiplies its iteration counts by, is the analytic count of its code:
// 2 flops per lane per FMA in the loop body of the assembly (peak_amd64.s; Z
// registers have 16 float32 lanes, Y registers 8), and 2 per multiply-add
// statement of peakGo. It also runs every supported loop.
func TestPeakFlopCount(t *testing.T) {
	var asm []byte
	if runtime.GOARCH == "amd64" {
		var err error
		if asm, err = os.ReadFile("peak_amd64.s"); err != nil {
			t.Fatal(err)
		}
	}
	forEachVariant(t, FamilyPeak, func(t *testing.T) {
		pk := peakKernels.get()
		fn := runtime.FuncForPC(reflect.ValueOf(pk.loop).Pointer()).Name()
		fn = fn[strings.LastIndex(fn, ".")+1:]
		var want float64
		if fn == "peakGo" {
			want = goLoopFlops(t, "peak.go", fn)
		} else {
			want = asmLoopFlops(t, string(asm), fn)
		}
		if pk.flops != want || want == 0 {
			t.Errorf("%s: %v flops per iteration registered, the code does %v", fn, pk.flops, want)
		}
		pk.loop(0)
		pk.loop(1000)
	})
}

// asmLoopFlops counts the flops of one iteration of the loop of TEXT ·fn in asm.
func asmLoopFlops(t *testing.T, asm, fn string) float64 {
	t.Helper()
	i := strings.Index(asm, "TEXT ·"+fn+"(SB)")
	if i < 0 {
		t.Fatalf("no TEXT ·%s in peak_amd64.s", fn)
	}
	body := asm[i:]
	body = body[:strings.Index(body, "\tRET")]
	inLoop, flops := false, 0.0
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(strings.ReplaceAll(line, ",", " "))
		switch {
		case len(f) == 0:
		case strings.HasPrefix(f[0], "loop"):
			inLoop = true
		case f[0] == "JNZ":
			inLoop = false
		case inLoop && f[0] == "VFMADD231PS":
			lanes := map[byte]float64{'Z': 16, 'Y': 8, 'X': 4}[f[len(f)-1][0]]
			flops += 2 * lanes
		}
	}
	return flops
}

// goLoopFlops counts 2 flops per statement x = x*m + a in the range loop of fn.
func goLoopFlops(t *testing.T, file, fn string) float64 {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flops := 0.0
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			loop, ok := n.(*ast.RangeStmt)
			if !ok {
				return true
			}
			for _, s := range loop.Body.List {
				as, ok := s.(*ast.AssignStmt)
				if !ok || len(as.Rhs) != 1 {
					continue
				}
				if add, ok := as.Rhs[0].(*ast.BinaryExpr); ok && add.Op == token.ADD {
					if mul, ok := add.X.(*ast.BinaryExpr); ok && mul.Op == token.MUL {
						flops += 2
					}
				}
			}
			return false
		})
	}
	return flops
}

// BenchmarkPeak reports the measured FMA ceiling (see PeakGFLOPS).
func BenchmarkPeak(b *testing.B) {
	var g float64
	for b.Loop() {
		g = PeakGFLOPS(200 * time.Millisecond)
	}
	b.ReportMetric(g, "GFLOP/s")
}
