package optim

import "math"

// fma32 returns a·b + c rounded once to float32, as a fused multiply-add would.
//
// torch's vectorized CPU kernel for add(other, alpha=α) computes fmadd(other, α, self),
// a single rounding; this helper reproduces that without relying on the Go compiler's
// freedom to fuse (which differs between architectures).
//
// The product of two float32 values is exact in float64, so s = a·b + c in float64 is
// the exact value rounded once to 53 bits. Converting s to float32 rounds correctly
// unless s landed exactly on a float32 rounding midpoint (the only place where double
// rounding can go wrong), or lies in float32's subnormal range where the midpoints sit
// elsewhere; those rare cases take the exact path.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact
	s := p + float64(c)
	if needsSlow(s) {
		return fma32Slow(p, float64(c), s)
	}
	return float32(s)
}

// needsSlow reports whether converting the float64 s to float32 could round
// differently from the exact value s approximates: s is exactly a float32 rounding
// midpoint, or |s| is below float32's smallest normal number.
func needsSlow(s float64) bool {
	const (
		lowMask  = 1<<29 - 1 // the float64 mantissa bits below float32 precision
		midpoint = 1 << 28
		expMask  = 0x7FF << 52
		minNorm  = (1023 - 126) << 52 // biased exponent of 2^-126
	)
	bits := math.Float64bits(s)
	return bits&lowMask == midpoint || bits&expMask < minNorm
}

// fma32Slow rounds s = p + z (with p and z exact) to float32 by first rounding the sum
// to odd in float64, which makes the conversion a correct single rounding
// (53 ≥ 24 + 2 bits).
func fma32Slow(p, z, s float64) float32 {
	// TwoSum error term: s + e == p + z exactly.
	bb := s - p
	e := (p - (s - bb)) + (z - bb)
	if e > 0 || e < 0 { // false for NaN (s infinite)
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++ // away from zero
			} else {
				bits-- // toward zero
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}
