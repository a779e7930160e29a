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
