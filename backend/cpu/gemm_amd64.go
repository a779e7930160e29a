package cpu

import "runtime"

//go:generate sh -c "go run gemm_asmgen.go > gemm_amd64.s"

// sgemmKernelAVX512 computes one 14×32 tile with AVX-512 from a packed A micro-panel
// (lda is unused) and 32-wide rows of B ldb apart, prefetching pfRows rows of pfLines
// cache lines pfLd bytes apart from pf into L2 on the way (see gemm_asmgen.go).
//
//go:noescape
func sgemmKernelAVX512(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// sgemmKernelAVX2 computes one 6×16 tile with AVX2 and FMA from a packed A
// micro-panel (lda is unused) and 16-wide rows of B ldb apart, prefetching like
// sgemmKernelAVX512 (see gemm_asmgen.go).
//
//go:noescape
func sgemmKernelAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// sgemmKernelDirectAVX512 is sgemmKernelAVX512 reading 14 rows of a row-major A
// (stride lda) instead of a packed micro-panel.
//
//go:noescape
func sgemmKernelDirectAVX512(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// sgemmKernelDirectAVX2 is sgemmKernelAVX2 reading 6 rows of a row-major A (stride
// lda) instead of a packed micro-panel.
//
//go:noescape
func sgemmKernelDirectAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// sgemmKernelDirectAVX2Row is sgemmKernelDirectAVX2 for tiles tiles side by side
// (columns 16·t onwards of c, B micro-panels bstride floats apart) in each of panels
// row panels, without prefetching, adding bias[j] to column j when bias is not nil;
// tiles0 and bias0 repeat tiles and bias (see emitDirectRow in gemm_asmgen.go).
//
//go:noescape
func sgemmKernelDirectAVX2Row(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bstride, tiles int, alpha, beta float32, bias *float32, panels, tiles0 int, bias0 *float32)

// sgemmKernel8x48AVX512 is sgemmKernelAVX512 for 8×48 tiles.
//
//go:noescape
func sgemmKernel8x48AVX512(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// sgemmKernelDirect8x48AVX512 is sgemmKernelDirectAVX512 for 8×48 tiles.
//
//go:noescape
func sgemmKernelDirect8x48AVX512(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)

// packRowsAVX copies n pieces of width (16, 32 or 48) floats from src to dst,
// dstStride floats apart there (see gemm_asmgen.go).
//
//go:noescape
func packRowsAVX(dst *float32, dstStride int, src *float32, n, width int)

func init() {
	packKernels.add("avx2", prioAVX2, []feature{hasAVX2}, func(dst []float32, dstStride int, src []float32, n, width int) {
		if n == 0 {
			return
		}
		if width != 16 && width != 32 && width != 48 {
			packRowsGo(dst, dstStride, src, n, width)
			return
		}
		_ = dst[(n-1)*dstStride+width-1]
		_ = src[n*width-1]
		packRowsAVX(&dst[0], dstStride, &src[0], n, width)
	})
	gemmKernels.add("avx512", prioAVX512, []feature{hasAVX512F}, (&gemmVariant{
		mr: 14, nr: 32, kcMax: 384, mcMax: 14 * 24, ncMax: 32 * 64,
		kernel: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
			_ = a[14*kc-1]
			_ = b[(kc-1)*ldb+31]
			_ = c[13*ldc+31]
			sgemmKernelAVX512(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
		},
		direct: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
			_ = a[13*lda+kc-1]
			_ = b[(kc-1)*ldb+31]
			_ = c[13*ldc+31]
			sgemmKernelDirectAVX512(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
		},
		alts: []*gemmVariant{{
			mr: 8, nr: 48, kcMax: 192, mcMax: 8 * 40, ncMax: 48 * 44, bInL1: true,
			kernel: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
				_ = a[8*kc-1]
				_ = b[(kc-1)*ldb+47]
				_ = c[7*ldc+47]
				sgemmKernel8x48AVX512(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
			},
			direct: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
				_ = a[7*lda+kc-1]
				_ = b[(kc-1)*ldb+47]
				_ = c[7*ldc+47]
				sgemmKernelDirect8x48AVX512(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
			},
		}},
	}).fitCaches(caches, runtime.GOMAXPROCS(0)))
	gemmKernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, (&gemmVariant{
		mr: 6, nr: 16, kcMax: 256, mcMax: 6 * 32, ncMax: 16 * 128,
		kernel: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
			_ = a[6*kc-1]
			_ = b[(kc-1)*ldb+15]
			_ = c[5*ldc+15]
			sgemmKernelAVX2(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
		},
		direct: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
			_ = a[5*lda+kc-1]
			_ = b[(kc-1)*ldb+15]
			_ = c[5*ldc+15]
			sgemmKernelDirectAVX2(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, pf.p, pf.lines, 4*pf.ld, pf.rows, alpha, beta)
		},
		directRow: func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bstride, tiles, panels int, alpha, beta float32, bias []float32) {
			if tiles <= 0 || panels <= 0 {
				return
			}
			_ = a[(6*panels-1)*lda+kc-1]
			_ = b[(tiles-1)*bstride+(kc-1)*ldb+15]
			_ = c[(6*panels-1)*ldc+16*tiles-1]
			var pb *float32
			if bias != nil {
				_ = bias[16*tiles-1]
				pb = &bias[0]
			}
			sgemmKernelDirectAVX2Row(kc, &a[0], lda, &b[0], ldb, &c[0], ldc, bstride, tiles, alpha, beta, pb, panels, tiles, pb)
		},
		conv3: func(nv int, a []float32, offs []int, pieces *[6]int, b, c []float32, ldc int, add bool, bias []float32) {
			conv3Checked(conv3x3Tiles6x16AVX2, conv3x3Tiles6x8AVX2, nv, a, offs, pieces, b, c, ldc, add, bias)
		},
	}).fitCaches(caches, runtime.GOMAXPROCS(0)))
}
