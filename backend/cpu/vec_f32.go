package cpu

// Vector ops on float32 data and float32 results, rounding like the plain loops
// (see vec.go).

// AxpyF32 sets y[i] += a·x[i] for i < len(x) (y at least as long) serially, rounding
// the product and the sum separately (no fused multiply-add), like the plain loop.
func AxpyF32(a float32, x, y []float32) {
	y = y[:len(x)]
	n := len(x) &^ 15
	if k := vecKernels.get().axpyF32; n > 0 && k != nil {
		k(a, &x[0], &y[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		y[c] += a * x[c]
	}
}

// MulAddF32 sets z[i] += x[i]·y[i] for i < len(x) (y and z at least as long) serially,
// rounding the product and the sum separately, like the plain loop.
func MulAddF32(x, y, z []float32) {
	y, z = y[:len(x)], z[:len(x)]
	n := len(x) &^ 15
	if k := vecKernels.get().mulAddF32; n > 0 && k != nil {
		k(&x[0], &y[0], &z[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		z[c] += float32(x[c] * y[c])
	}
}

// MulF32 sets z[i] = x[i]·y[i] for i < len(x) (y and z at least as long) serially.
func MulF32(x, y, z []float32) {
	y, z = y[:len(x)], z[:len(x)]
	n := len(x) &^ 15
	if k := vecKernels.get().mulF32; n > 0 && k != nil {
		k(&x[0], &y[0], &z[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		z[c] = x[c] * y[c]
	}
}

// AddF32 sets z[i] = x[i] + y[i] for i < len(x) (y and z at least as long) serially.
func AddF32(x, y, z []float32) {
	binaryF32(x, y, z, vecKernels.get().add, func(a, b float32) float32 { return a + b })
}

// SubF32 sets z[i] = x[i] − y[i] for i < len(x) (y and z at least as long) serially.
func SubF32(x, y, z []float32) {
	binaryF32(x, y, z, vecKernels.get().sub, func(a, b float32) float32 { return a - b })
}

// DivF32 sets z[i] = x[i]/y[i] for i < len(x) (y and z at least as long) serially.
func DivF32(x, y, z []float32) {
	binaryF32(x, y, z, vecKernels.get().div, func(a, b float32) float32 { return a / b })
}

// binaryF32 runs the kernel k (nil: none) over the whole vectors of x, y and z and op
// over the rest.
func binaryF32(x, y, z []float32, k func(x, y, z *float32, n int), op func(a, b float32) float32) {
	y, z = y[:len(x)], z[:len(x)]
	n := len(x) &^ 7
	if n > 0 && k != nil {
		k(&x[0], &y[0], &z[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		z[c] = op(x[c], y[c])
	}
}

// DivScalarF32 sets z[i] = x[i]/s for i < len(x) (z at least as long) serially.
func DivScalarF32(x []float32, s float32, z []float32) {
	scalarF32(x, s, z, vecKernels.get().divScalar, func(a, b float32) float32 { return a / b })
}

// ScaleF32 sets z[i] = s·x[i] for i < len(x) (z at least as long) serially.
func ScaleF32(x []float32, s float32, z []float32) {
	scalarF32(x, s, z, vecKernels.get().scale, func(a, b float32) float32 { return b * a })
}

// AddScalarF32 sets z[i] = x[i] + s for i < len(x) (z at least as long) serially.
func AddScalarF32(x []float32, s float32, z []float32) {
	scalarF32(x, s, z, vecKernels.get().addScalar, func(a, b float32) float32 { return a + b })
}

// scalarF32 runs the kernel k (nil: none) over the whole vectors of x and z and op(x, s)
// over the rest.
func scalarF32(x []float32, s float32, z []float32, k func(x *float32, s float32, z *float32, n int), op func(a, b float32) float32) {
	z = z[:len(x)]
	n := len(x) &^ 7
	if n > 0 && k != nil {
		k(&x[0], s, &z[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		z[c] = op(x[c], s)
	}
}

// AddRowsF32 adds the rows rows of c values of x to acc (length c), one row after the
// other: acc[j] += x[r·c+j] for r = 0, 1, …, each sum rounded to float32 (the order
// of a loop over the rows), serially.
func AddRowsF32(acc, x []float32, rows, c int) {
	if rows <= 0 || c <= 0 {
		return
	}
	acc, x = acc[:c], x[:rows*c]
	if k := vecKernels.get().addRows; k != nil && c%8 == 0 && c <= 64 {
		k(&acc[0], &x[0], rows, c)
		return
	}
	for r := 0; r < rows; r++ {
		row := x[r*c : (r+1)*c]
		for j, v := range row {
			acc[j] += v
		}
	}
}

// MulScaleAddF32 sets z[i] = a[i] + k·(x[i]·y[i]) for i < len(x) (y, a and z at least
// as long) serially, rounding both products and the sum separately: the values of
// MulF32, ScaleF32 and AddF32 one after the other. z may be a or x.
func MulScaleAddF32(x, y, a []float32, k float32, z []float32) {
	y, a, z = y[:len(x)], a[:len(x)], z[:len(x)]
	n := len(x) &^ 7
	if k8 := vecKernels.get().mulScaleAdd; n > 0 && k8 != nil {
		k8(&x[0], &y[0], &a[0], k, &z[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		z[c] = a[c] + float32(k*float32(x[c]*y[c]))
	}
}

// BilerpF32 sets d[i] = a0·(b0·t0[i] + b1·t1[i]) + a1·(b0·u0[i] + b1·u1[i]), each
// product and sum rounded to float32 on its own (no fused multiply-add), so every
// variant gives the same bits.
func BilerpF32(d, t0, t1, u0, u1 []float32, a0, a1, b0, b1 float32) {
	t0, t1, u0, u1 = t0[:len(d)], t1[:len(d)], u0[:len(d)], u1[:len(d)]
	n := len(d) &^ 7
	if k := vecKernels.get().bilerp; n > 0 && k != nil {
		k(&d[0], &t0[0], &t1[0], &u0[0], &u1[0], n, a0, a1, b0, b1)
	} else {
		n = 0
	}
	for i := n; i < len(d); i++ {
		top := float32(float32(b0*t0[i]) + float32(b1*t1[i]))
		bot := float32(float32(b0*u0[i]) + float32(b1*u1[i]))
		d[i] = float32(a0*top) + float32(a1*bot)
	}
}
