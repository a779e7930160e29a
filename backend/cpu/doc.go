// Package cpu holds the CPU kernels of the engine: matrix products, convolutions,
// batch normalisation, element-wise maps and reductions over plain float32 slices,
// and the persistent worker pool they run on. Only this package knows how loops
// run and how memory is laid out; the layers above see tensors.
//
// # Kernel variants
//
// The hot loops come in several implementations ("variants") grouped in families:
//
//	family        kernels                                          variants
//	gemm          SGEMM microkernels with their cache blocking     avx512, avx2, go
//	pack          the B-panel packing copy of Sgemm                avx2, go
//	gemm_bf16     bf16 GEMM microkernels (SgemmBF16)               avx2, go
//	bf16_convert  float32 ↔ bf16 slice conversions                 avx2, go
//	vmath         exp-family activations, batch-norm row kernels   avx512, avx2, go
//	conv          depthwise / grouped convolution inner kernels    avx512, avx2, go
//	vec           DotF64, AxpyF32, MulAddF64 and the other vec ops avx2, go
//	peak          the FMA loop PeakGFLOPS measures                 avx512, avx2, go
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
// A new family is one newFamily call with its portable kernels plus one add per
// variant, each naming its features; callers fetch the kernels in use with the
// family's get method and are not touched when variants are added.
//
// # Cache blocking
//
// The GEMM blocking comes from the machine's caches (CacheSizes: CPUID on amd64,
// else Linux sysfs, else defaults): each variant's registered kc, mc and nc are
// ceilings that fitCaches lowers so that the micro-panel reused across the inner
// loop fits in L1 and the streamed packed block in L2 plus the core's share of L3.
//
// # bf16
//
// SgemmBF16 multiplies bf16 matrices (uint16; BF16FromF32 rounds to nearest even)
// accumulating in float32, with a reduction order (blocks of 256, one fused
// multiply-add per product in increasing depth) that every variant of gemm_bf16
// reproduces bit for bit; the avx2 variant widens bf16 to float32 in registers and
// uses FMA. No variant uses AVX512_BF16 (VDPBF16PS) or AMX yet: the development
// machine of this family had neither, and unverifiable assembly is not shipped.
// VDPBF16PS sums bf16 pairs with its own rounding (odd pair first, DAZ and FTZ);
// SgemmBF16Pairs and DPBF16PSLane emulate it exactly, so that a future
// "avx512bf16" variant (its own family, or a registry entry with the pair order)
// can be tested bit for bit against them, and an AMX variant within a tolerance.
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
