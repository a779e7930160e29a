// Package cpu holds the CPU kernels of the engine: matrix products, convolutions,
// batch normalisation, element-wise maps and reductions over plain float32 slices,
// and the persistent worker pool they run on. Only this package knows how loops
// run and how memory is laid out; the layers above see tensors.
//
// # Kernel variants
//
// The hot loops come in several implementations ("variants") grouped in families:
//
//	family  kernels                                          variants
//	gemm    SGEMM microkernels with their cache blocking     avx512, avx2, go
//	pack    the B-panel packing copy of Sgemm                avx2, go
//	vmath   exp-family activations, batch-norm row kernels   avx512, avx2, go
//	conv    depthwise / grouped convolution inner kernels    avx512, avx2, go
//	vec     DotF64, AxpyF32, MulAddF64 and the other vec ops avx2, go
//	peak    the FMA loop PeakGFLOPS measures                 avx512, avx2, go
//
// Each variant is registered (registry.go) with the CPU features it needs and a
// priority; of those the CPU supports, the highest-priority one is used. The
// portable "go" variant needs nothing and is always supported, so every family
// works on every architecture (on arm64 only "go" is registered). KernelFamilies,
// KernelVariants and KernelVariant report the families, the variants this CPU
// supports (preferred first) and the one in use; ForceVariant switches a family to
// another supported variant and returns a function that switches it back — for
// tests and benchmarks, which loop over every registered variant of a family and
// skip only those whose features the CPU lacks.
//
// A new family (say a bf16 GEMM with AMX, AVX512_BF16 and portable variants) is one
// newFamily call with its portable kernels plus one add per variant, each naming
// its features; callers fetch the kernels in use with the family's get method and
// are not touched when variants are added.
//
// # Generated assembly
//
// The repetitive assembly is written by generator programs (go generate):
// gemm_asmgen.go writes gemm_amd64.s, conv_asmgen.go the fixed-tap depthwise row
// kernels of conv_taps_amd64.s, peak_asmgen.go peak_amd64.s. TestGeneratedAssembly
// checks that each generator reproduces its committed file byte for byte. The other
// .s files (conv_amd64.s, vmath_amd64.s, batchnorm_amd64.s, vec_amd64.s) are
// written by hand; vmath_amd64.s and batchnorm_amd64.s share the constants and
// macros of vmath_amd64.h.
package cpu
