package cpu

// dotF64AVX2 is DotF64 over n elements, n a positive multiple of 16.
//
//go:noescape
func dotF64AVX2(x, y *float32, n int) float64

// axpyF64AVX2 is AxpyF64 over n elements, n a positive multiple of 8.
//
//go:noescape
func axpyF64AVX2(a float64, x *float32, acc *float64, n int)

// axpyF32AVX2 is AxpyF32 over n elements, n a positive multiple of 16.
//
//go:noescape
func axpyF32AVX2(a float32, x, y *float32, n int)

// mulAddF64AVX2 is MulAddF64 over n elements, n a positive multiple of 8.
//
//go:noescape
func mulAddF64AVX2(x, y *float32, acc *float64, n int)

// mulAddF32AVX2 is MulAddF32 over n elements, n a positive multiple of 16.
//
//go:noescape
func mulAddF32AVX2(x, y, z *float32, n int)

// mulF32AVX2 is MulF32 over n elements, n a positive multiple of 16.
//
//go:noescape
func mulF32AVX2(x, y, z *float32, n int)

// bilerpF32AVX2 is BilerpF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func bilerpF32AVX2(d, t0, t1, u0, u1 *float32, n int, a0, a1, b0, b1 float32)

// subF32AVX2 is SubF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func subF32AVX2(x, y, z *float32, n int)

// divF32AVX2 is DivF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func divF32AVX2(x, y, z *float32, n int)

// divScalarF32AVX2 is DivScalarF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func divScalarF32AVX2(x *float32, s float32, z *float32, n int)

// scaleF32AVX2 is ScaleF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func scaleF32AVX2(x *float32, s float32, z *float32, n int)

// bilerpRowF32AVX2 is a row of bilerpF32AVX2 calls (see vec_amd64.s).
//
//go:noescape
func bilerpRowF32AVX2(d, top, bot *float32, taps *int, wts *float32, count, c int, a0, a1 float32)

// addScalarF32AVX2 is AddScalarF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func addScalarF32AVX2(x *float32, s float32, z *float32, n int)

// addF32AVX2 is AddF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func addF32AVX2(x, y, z *float32, n int)

// addRows8F32AVX2 is AddRowsF32 for rows ≥ 1 rows of c channels, c a multiple of 8
// from 8 to 64.
//
//go:noescape
func addRows8F32AVX2(acc, x *float32, rows, c int)

// mulScaleAddF32AVX2 is MulScaleAddF32 over n elements, n a positive multiple of 8.
//
//go:noescape
func mulScaleAddF32AVX2(x, y, a *float32, k float32, z *float32, n int)

func init() {
	vecKernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, &vecVariant{
		dotF64: dotF64AVX2, axpyF64: axpyF64AVX2, axpyF32: axpyF32AVX2, mulAddF64: mulAddF64AVX2,
		mulAddF32: mulAddF32AVX2, mulF32: mulF32AVX2, bilerp: bilerpF32AVX2,
		add: addF32AVX2, sub: subF32AVX2, div: divF32AVX2, divScalar: divScalarF32AVX2, scale: scaleF32AVX2, addScalar: addScalarF32AVX2,
		addRows: addRows8F32AVX2, mulScaleAdd: mulScaleAddF32AVX2, bilerpRow: bilerpRowF32AVX2,
	})
}
