package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvae-go/nvae/backend/cpu"
)

func init() {
	register(&command{name: "bench", summary: "benchmark the engine (bench kernels) or the model (bench train, bench sample)", run: runBench,
		mpi: func(args []string) bool { return len(args) > 0 && args[0] == "train" }})
}

func runBench(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(errOut, "usage: nvae bench kernels|train|sample [flags]")
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(errOut, "usage: nvae bench kernels|train|sample [flags] (run 'nvae bench NAME -h' for the flags of one)")
		return flag.ErrHelp
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
	fs := newFlags("bench kernels", "[--json] [--seconds S] [--repeat N] [--no-torch]")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	secs := fs.Float64("seconds", 2, "minimum timing per kernel, in seconds")
	repeat := fs.Int("repeat", 1, "measure peak and GEMMs back to back this many times and report medians")
	noTorch := fs.Bool("no-torch", false, "skip the PyTorch comparison even if torch is importable")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *repeat < 1 {
		return fmt.Errorf("bench kernels: --repeat must be at least 1, got %d", *repeat)
	}
	d := time.Duration(*secs * float64(time.Second))
	ci := cpu.CacheSizes()
	res := map[string]any{"threads": cpu.Workers(), "gemm_variant": cpu.KernelVariant(cpu.FamilyGemm),
		"gemm_bf16_variant": cpu.KernelVariant(cpu.FamilyGemmBF16), "goarch": runtime.GOARCH,
		"l1d_kib": ci.L1D >> 10, "l2_kib": ci.L2 >> 10, "l3_kib": ci.L3 >> 10, "cache_source": ci.Source,
		"repeat": *repeat}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(la)); len(f) > 0 {
			res["loadavg_1m_before"] = f[0]
		}
	}
	type row struct {
		key, label, unit string
	}
	var rows []row
	put := func(key, label, unit string, v float64) {
		res[key] = v
		rows = append(rows, row{key, label, unit})
	}
	// Peak and GEMMs back to back, repeated: GEMM rates are each one's fastest call
	// (the peak keeps its fastest slices too), and the ratios are taken within a
	// repetition, so that load from other processes affects both sides alike.
	const sk, sn, skk = 32768, 64, 576 // skinny: the forward GEMM of a 3×3 conv, 64→64 channels
	series := map[string][]float64{}
	add := func(k string, v float64) { series[k] = append(series[k], v) }
	for range *repeat {
		peak := cpu.PeakGFLOPS(d)
		f32 := cpu.BenchSgemm(1024, 1024, 1024, d)
		bf := cpu.BenchSgemmBF16(1024, 1024, 1024, d)
		f32s := cpu.BenchSgemm(sk, sn, skk, d)
		bfs := cpu.BenchSgemmBF16(sk, sn, skk, d)
		add("peak_gflops", peak)
		add("sgemm_gflops", f32.Best)
		add("sgemm_mean_gflops", f32.Mean)
		add("sgemm_fraction_of_peak", f32.Best/peak)
		add("bf16_gemm_gflops", bf.Best)
		add("bf16_gemm_mean_gflops", bf.Mean)
		add("bf16_gemm_fraction_of_peak", bf.Best/peak)
		add("sgemm_skinny_gflops", f32s.Best)
		add("bf16_gemm_skinny_gflops", bfs.Best)
		add("bf16_skinny_speedup", bfs.Best/f32s.Best)
	}
	med := func(k string) float64 {
		v := append([]float64(nil), series[k]...)
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	put("peak_gflops", "FMA peak (all cores)", "GFLOP/s", med("peak_gflops"))
	put("sgemm_gflops", "SGEMM 1024×1024×1024 (best call)", "GFLOP/s", med("sgemm_gflops"))
	put("sgemm_mean_gflops", "SGEMM 1024×1024×1024 (mean)", "GFLOP/s", med("sgemm_mean_gflops"))
	// No bf16 dot-product instruction is used (no variant has AVX512_BF16 or AMX), so
	// the bf16 peak is the float32 FMA peak: bf16 operands are widened, then FMAed.
	res["bf16_peak_gflops"] = res["peak_gflops"]
	put("bf16_gemm_gflops", "bf16 GEMM 1024×1024×1024 (best call)", "GFLOP/s", med("bf16_gemm_gflops"))
	put("bf16_gemm_mean_gflops", "bf16 GEMM 1024×1024×1024 (mean)", "GFLOP/s", med("bf16_gemm_mean_gflops"))
	put("sgemm_skinny_gflops", fmt.Sprintf("SGEMM %d×%d×%d (best call)", sk, sn, skk), "GFLOP/s", med("sgemm_skinny_gflops"))
	put("bf16_gemm_skinny_gflops", fmt.Sprintf("bf16 GEMM %d×%d×%d (best call)", sk, sn, skk), "GFLOP/s", med("bf16_gemm_skinny_gflops"))
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
	res["sgemm_fraction_of_peak"] = med("sgemm_fraction_of_peak")
	res["bf16_gemm_fraction_of_peak"] = med("bf16_gemm_fraction_of_peak")
	res["bf16_skinny_speedup"] = med("bf16_skinny_speedup")
	if *repeat > 1 {
		res["series"] = series
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "engine kernels, %d threads, GEMM variant %s, bf16 GEMM variant %s, caches L1d %d KiB L2 %d KiB L3 %d KiB (%s)\n",
		cpu.Workers(), cpu.KernelVariant(cpu.FamilyGemm), cpu.KernelVariant(cpu.FamilyGemmBF16), ci.L1D>>10, ci.L2>>10, ci.L3>>10, ci.Source)
	for _, r := range rows {
		fmt.Fprintf(stdout, "  %-42s %9.1f %s\n", r.label, res[r.key].(float64), r.unit)
	}
	fmt.Fprintf(stdout, "  %-42s %9.2f\n", "SGEMM / peak", res["sgemm_fraction_of_peak"])
	fmt.Fprintf(stdout, "  %-42s %9.2f\n", "bf16 GEMM / bf16 peak (= FMA peak)", res["bf16_gemm_fraction_of_peak"])
	fmt.Fprintf(stdout, "  %-42s %9.2f\n", "bf16 / float32, skinny GEMM", res["bf16_skinny_speedup"])
	if v, ok := res["conv3x3_ratio_vs_torch"]; ok {
		fmt.Fprintf(stdout, "  %-42s %9.2f\n", "conv 3×3 / PyTorch", v)
	}
	return nil
}
