package cpu

// narrowBF16AVX2 rounds n float32 values (a multiple of 16) to bf16 as BF16FromF32.
//
//go:noescape
func narrowBF16AVX2(dst *uint16, src *float32, n int)

// widenBF16AVX2 widens n bf16 values (a multiple of 16) to float32.
//
//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

// sgemmKernelBF16AVX2 is the 6×16 bf16 microkernel (see bf16Variant.kernel and
// gemm_asmgen.go): A is a packed float32 micro-panel, B a packed bf16 micro-panel
// widened in registers; one FMA per product, in increasing depth.
//
//go:noescape
func sgemmKernelBF16AVX2(kc int, a *float32, lda int, b *uint16, c *float32, ldc int, alpha, beta float32)

// sgemmKernelBF16DirectAVX2 is sgemmKernelBF16AVX2 reading 6 rows of a row-major
// bf16 A in place (lda elements apart), widening each value in registers.
//
//go:noescape
func sgemmKernelBF16DirectAVX2(kc int, a *uint16, lda int, b *uint16, c *float32, ldc int, alpha, beta float32)

func init() {
	bf16Convert.add("avx2", prioAVX2, []feature{hasAVX2}, bf16ConvertKernels{
		narrow: func(dst []uint16, src []float32) {
			n := len(src) &^ 15
			if n > 0 {
				_ = dst[n-1]
				narrowBF16AVX2(&dst[0], &src[0], n)
			}
			narrowGo(dst[n:], src[n:])
		},
		widen: func(dst []float32, src []uint16) {
			n := len(src) &^ 15
			if n > 0 {
				_ = dst[n-1]
				widenBF16AVX2(&dst[0], &src[0], n)
			}
			widenGo(dst[n:], src[n:])
		},
	})
	bf16Kernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, &bf16Variant{
		mr: 6, nr: 16,
		kernel: func(kc int, a []float32, lda int, b []uint16, c []float32, ldc int, alpha, beta float32) {
			_ = a[5*lda+kc-1]
			_ = b[16*kc-1]
			_ = c[5*ldc+15]
			sgemmKernelBF16AVX2(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
		},
		direct: func(kc int, a []uint16, lda int, b []uint16, c []float32, ldc int, alpha, beta float32) {
			_ = a[5*lda+kc-1]
			_ = b[16*kc-1]
			_ = c[5*ldc+15]
			sgemmKernelBF16DirectAVX2(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
		},
	})
}
