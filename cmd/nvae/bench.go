package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nvae-go/nvae/backend/cpu"
)

func init() {
	register(&command{name: "bench", summary: "benchmark the engine (bench kernels) or the model (bench train, bench sample)", run: runBench})
}

func runBench(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(errOut, "usage: nvae bench kernels|train|sample [flags]")
		return errUsage
	}
	switch args[0] {
	case "kernels":
		return benchKernels(args[1:], stdout)
	}
	if b, ok := benchCommands[args[0]]; ok {
		return b(args[1:], stdout)
	}
	fmt.Fprintf(errOut, "nvae bench: unknown benchmark %q (kernels, train, sample)\n", args[0])
	return errUsage
}

// benchCommands holds the model-level benchmarks registered by other files.
var benchCommands = map[string]func(args []string, stdout io.Writer) error{}

// torchConvScript times the same 3×3 convolution through PyTorch with all cores and
// prints GFLOP/s (forward + input grad + weight grad).
const torchConvScript = `
import os, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
x = torch.randn(32, 64, 32, 32, requires_grad=True)
conv = torch.nn.Conv2d(64, 64, 3, padding=1)
g = torch.randn(32, 64, 32, 32)
def step():
    x.grad = None; conv.zero_grad()
    conv(x).backward(g)
for _ in range(3): step()
n, t0 = 0, time.perf_counter()
while n < 3 or time.perf_counter() - t0 < float(sys.argv[2]):
    step(); n += 1
dt = (time.perf_counter() - t0) / n
print(3 * 2 * 32 * 32 * 32 * 64 * 64 * 9 / dt / 1e9)
`

// findTorchPython returns a Python interpreter that can import torch, or "".
func findTorchPython() string {
	cands := []string{os.Getenv("NVAE_PYTHON"), "python3", "/usr/bin/python3"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if err := exec.Command(c, "-c", "import torch").Run(); err == nil {
			return c
		}
	}
	return ""
}

func benchKernels(args []string, stdout io.Writer) error {
	fs := newFlags("bench kernels", "[--json] [--seconds S] [--no-torch]")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	secs := fs.Float64("seconds", 2, "minimum timing per kernel, in seconds")
	noTorch := fs.Bool("no-torch", false, "skip the PyTorch comparison even if torch is importable")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	d := time.Duration(*secs * float64(time.Second))
	res := map[string]any{"threads": cpu.Workers(), "gemm_variant": cpu.KernelVariant(cpu.FamilyGemm), "goarch": runtime.GOARCH}
	type row struct {
		key, label, unit string
	}
	var rows []row
	put := func(key, label, unit string, v float64) {
		res[key] = v
		rows = append(rows, row{key, label, unit})
	}
	put("peak_gflops", "FMA peak (all cores)", "GFLOP/s", cpu.PeakGFLOPS(d))
	put("sgemm_gflops", "SGEMM 1024×1024×1024", "GFLOP/s", cpu.BenchSgemm(1024, d))
	conv := cpu.ConvParams{N: 32, H: 32, W: 32, C: 64, K: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
	put("conv3x3_fwd_bwd_gflops", "conv 3×3 B32 64→64 32×32 fwd+bwd", "GFLOP/s", cpu.BenchConv(conv, d))
	dw := cpu.ConvParams{N: 32, H: 16, W: 16, C: 192, K: 192, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 192}
	put("dwconv5x5_fwd_bwd_gflops", "depthwise 5×5 B32 192ch 16×16 fwd+bwd", "GFLOP/s", cpu.BenchConv(dw, d))
	put("bn_swish_fwd_bwd_gbps", "BN+Swish B32 32×32×64 fwd+bwd", "GB/s", cpu.BenchBNSwish(32*32*32, 64, d))
	if !*noTorch {
		if py := findTorchPython(); py != "" {
			out, err := exec.Command(py, "-c", torchConvScript, strconv.Itoa(cpu.Workers()), fmt.Sprint(*secs)).Output()
			if err != nil {
				return fmt.Errorf("timing the PyTorch convolution with %s: %w", py, err)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				return fmt.Errorf("reading the PyTorch timing %q: %w", out, err)
			}
			put("torch_conv3x3_fwd_bwd_gflops", "PyTorch conv 3×3 (same work)", "GFLOP/s", v)
			res["conv3x3_ratio_vs_torch"] = res["conv3x3_fwd_bwd_gflops"].(float64) / v
		}
	}
	res["sgemm_fraction_of_peak"] = res["sgemm_gflops"].(float64) / res["peak_gflops"].(float64)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "engine kernels, %d threads, GEMM variant %s\n", cpu.Workers(), cpu.KernelVariant(cpu.FamilyGemm))
	for _, r := range rows {
		fmt.Fprintf(stdout, "  %-42s %9.1f %s\n", r.label, res[r.key].(float64), r.unit)
	}
	fmt.Fprintf(stdout, "  %-42s %9.2f\n", "SGEMM / peak", res["sgemm_fraction_of_peak"])
	if v, ok := res["conv3x3_ratio_vs_torch"]; ok {
		fmt.Fprintf(stdout, "  %-42s %9.2f\n", "conv 3×3 / PyTorch", v)
	}
	return nil
}
