package cpu

// vecVariant is one implementation of the vector ops of vec_f64.go and vec_f32.go:
// kernels over a whole number of vectors (n a positive multiple of 16 for dotF64 and
// the float32 ops, of 8 for axpyF64 and mulAddF64). A nil kernel leaves all the work
// to the portable loop of its op.
type vecVariant struct {
	dotF64    func(x, y *float32, n int) float64
	axpyF64   func(a float64, x *float32, acc *float64, n int)
	axpyF32   func(a float32, x, y *float32, n int)
	mulAddF64 func(x, y *float32, acc *float64, n int)
	mulAddF32 func(x, y, z *float32, n int)
	mulF32    func(x, y, z *float32, n int)
	// bilerp is the bilinear combination of BilerpF32 (n a positive multiple of 8)
	bilerp func(d, t0, t1, u0, u1 *float32, n int, a0, a1, b0, b1 float32)
	// bilerpRow is bilerp for a row of count pixels of c channels (a positive
	// multiple of 8): pixel j reads the byte offsets taps[2j], taps[2j+1] of top and
	// bot with the weights wts[2j], wts[2j+1]
	bilerpRow func(d, top, bot *float32, taps *int, wts *float32, count, c int, a0, a1 float32)
	// add, sub, div, divScalar, scale and addScalar are AddF32, SubF32, DivF32,
	// DivScalarF32, ScaleF32 and AddScalarF32 (n a positive multiple of 8)
	add, sub, div               func(x, y, z *float32, n int)
	divScalar, scale, addScalar func(x *float32, s float32, z *float32, n int)
	// addRows is AddRowsF32 for rows ≥ 1 and c a multiple of 8 up to 64
	addRows func(acc, x *float32, rows, c int)
	// mulScaleAdd is MulScaleAddF32 (n a positive multiple of 8)
	mulScaleAdd func(x, y, a *float32, k float32, z *float32, n int)
}

// vecKernels is the vector-op family; its portable variant has no kernels.
var vecKernels = newFamily(FamilyVec, &vecVariant{})
