package cpu

// Vector ops on float32 data that accumulate in float64 (see vec.go).

// DotF64 returns Σ x[i]·y[i] over len(x) elements (y at least as long), with the
// products and sums in float64 (the products of float32 values are exact in float64).
// The partial sums are kept in a fixed interleaving, so the result is reproducible.
func DotF64(x, y []float32) float64 {
	y = y[:len(x)]
	n := len(x) &^ 15
	var s float64
	if k := vecKernels.get().dotF64; n > 0 && k != nil {
		s = k(&x[0], &y[0], n)
	} else {
		n = 0
	}
	var s0, s1, s2, s3 float64
	c := n
	for ; c+4 <= len(x); c += 4 {
		s0 += float64(x[c]) * float64(y[c])
		s1 += float64(x[c+1]) * float64(y[c+1])
		s2 += float64(x[c+2]) * float64(y[c+2])
		s3 += float64(x[c+3]) * float64(y[c+3])
	}
	for ; c < len(x); c++ {
		s0 += float64(x[c]) * float64(y[c])
	}
	return s + ((s0 + s1) + (s2 + s3))
}

// AxpyF64 sets acc[i] += a·x[i] in float64 for i < len(x) (acc at least as long).
// With a a float32 value, each product is exact, so the result is the same as the
// plain loop's.
func AxpyF64(a float64, x []float32, acc []float64) {
	acc = acc[:len(x)]
	n := len(x) &^ 7
	if k := vecKernels.get().axpyF64; n > 0 && k != nil {
		k(a, &x[0], &acc[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		acc[c] += a * float64(x[c])
	}
}

// MulAddF64 sets acc[i] += x[i]·y[i] in float64 for i < len(x) (y and acc at least as
// long). The products of float32 values are exact in float64, so the result is the
// same as the plain loop's.
func MulAddF64(x, y []float32, acc []float64) {
	y, acc = y[:len(x)], acc[:len(x)]
	n := len(x) &^ 7
	if k := vecKernels.get().mulAddF64; n > 0 && k != nil {
		k(&x[0], &y[0], &acc[0], n)
	} else {
		n = 0
	}
	for c := n; c < len(x); c++ {
		acc[c] += float64(x[c]) * float64(y[c])
	}
}
