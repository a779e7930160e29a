package cpu

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where op(X) is X
// or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the
// row strides of A, B and C as stored. With beta == 0, C is overwritten (its old
// contents, even NaN, are ignored).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	Parallel(m, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			crow := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(crow)
			} else if beta != 1 {
				for j := range crow {
					crow[j] *= beta
				}
			}
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				av *= alpha
				if transB {
					for j := range crow {
						crow[j] += av * b[j*ldb+p]
					}
				} else {
					brow := b[p*ldb : p*ldb+n]
					for j, bv := range brow {
						crow[j] += av * bv
					}
				}
			}
		}
	})
}
