package cpu

// gemmKernels is the SGEMM family; its portable variant runs sgemmKernelGo.
var gemmKernels = newFamily(FamilyGemm, &gemmVariant{
	mr: 4, nr: 4, kcMax: 256, mcMax: 4 * 32, ncMax: 4 * 256,
	kernel: sgemmKernelGo,
})

// sgemmKernelGo is the portable 4×4 microkernel: c (a 4×4 tile with row stride ldc) =
// alpha·Σ_p a[4p:4p+4]ᵀ·b[p·ldb:p·ldb+4] + beta·c, where beta == 0 does not read c
// (lda is unused: A is a packed micro-panel; nor is the prefetch hint pf).
func sgemmKernelGo(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*kc]
	for p := 0; p+3 < len(a); p += 4 {
		a0, a1, a2, a3 := a[p], a[p+1], a[p+2], a[p+3]
		bp := b[p/4*ldb : p/4*ldb+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	rows := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	_ = c[3*ldc+3]
	for r := range rows {
		cr := c[r*ldc : r*ldc+4]
		if beta == 0 {
			for j := range cr {
				cr[j] = alpha * rows[r][j]
			}
		} else {
			for j := range cr {
				cr[j] = alpha*rows[r][j] + beta*cr[j]
			}
		}
	}
}
