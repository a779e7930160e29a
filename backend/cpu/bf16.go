package cpu

import "math"

// bfloat16 ("bf16") is the upper half of an IEEE-754 binary32: 1 sign bit, the 8
// exponent bits of float32 and 7 fraction bits. It is stored here as a uint16.
// Widening to float32 is exact (shift left by 16 bits); narrowing rounds.

// BF16FromF32 rounds x to the nearest bf16, ties to even (IEEE round-to-nearest-even,
// the rounding of VCVTNEPS2BF16). Finite values too large for bf16 round to ±Inf,
// float32 denormals round to bf16 denormals or ±0 (they are not flushed), and a NaN
// stays a NaN of the same sign with the quiet bit set (its upper payload bits kept).
func BF16FromF32(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 { // NaN: truncate and make it quiet
		return uint16(u>>16) | 0x0040
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// F32FromBF16 widens a bf16 value to float32 exactly.
func F32FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// BF16FromF32Slice sets dst[i] = BF16FromF32(src[i]) for i < n = min(len(dst),
// len(src)), like copy, and returns n.
func BF16FromF32Slice(dst []uint16, src []float32) int {
	n := min(len(dst), len(src))
	bf16Convert.get().narrow(dst[:n], src[:n])
	return n
}

// F32FromBF16Slice sets dst[i] = F32FromBF16(src[i]) for i < n = min(len(dst),
// len(src)), like copy, and returns n.
func F32FromBF16Slice(dst []float32, src []uint16) int {
	n := min(len(dst), len(src))
	bf16Convert.get().widen(dst[:n], src[:n])
	return n
}

// bf16ConvertKernels are the slice conversions; dst and src have equal lengths.
type bf16ConvertKernels struct {
	narrow func(dst []uint16, src []float32)
	widen  func(dst []float32, src []uint16)
}

// bf16Convert is the family of the bf16 slice conversions (bit-identical across
// variants: conversions are exactly specified).
var bf16Convert = newFamily(FamilyBF16Convert, bf16ConvertKernels{narrowGo, widenGo})

func narrowGo(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = BF16FromF32(x)
	}
}

func widenGo(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = F32FromBF16(h)
	}
}

// fma32 returns x·y+z rounded once to float32 (round to nearest even), as a fused
// multiply-add instruction (VFMADD231PS with the default MXCSR: no DAZ, no FTZ)
// computes it, for all float32 inputs including denormals, infinities and NaN
// (NaN payloads aside). The product of two float32 values is exact in float64, so
// the sum is computed in float64 rounded to odd (TwoSum gives the exact error),
// which then rounds to float32 without double-rounding error.
func fma32(x, y, z float32) float32 {
	p := float64(x) * float64(y) // exact
	zz := float64(z)
	s := p + zz
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	t := s - p
	e := (p - (s - t)) + (zz - t) // p + zz - s, exactly
	if b := math.Float64bits(s); e != 0 && b&1 == 0 {
		// Round to odd: step to the odd neighbour on the side of the exact sum.
		if (e > 0) == (s > 0) {
			b++
		} else {
			b--
		}
		s = math.Float64frombits(b)
	}
	return float32(s)
}

// fmaBF16 is fma32 for x and y widened from bf16, whose product (at most 16
// significant bits) is exact in float32 unless it leaves float32's range: then one
// float32 addition is the fused result.
func fmaBF16(x, y, z float32) float32 {
	pf := float64(x) * float64(y)
	p := float32(pf)
	if float64(p) == pf {
		return z + p
	}
	return fma32(x, y, z)
}

// The VDPBF16PS emulation (see SgemmBF16Pairs).

// dazBF16 is a bf16 value as VDPBF16PS reads it: denormals are zero (sign kept).
func dazBF16(x float32) float32 {
	if u := math.Float32bits(x); u&0x7f800000 == 0 {
		return math.Float32frombits(u & 0x80000000)
	}
	return x
}

// ftz32 flushes a float32 denormal result to zero of the same sign.
func ftz32(x float32) float32 { return dazBF16(x) }

// dpbf16Step is one of the two steps of a VDPBF16PS lane: acc + x·y rounded to
// nearest even, with denormal inputs (x, y, acc) read as zero and a denormal result
// flushed to zero.
func dpbf16Step(acc, x, y float32) float32 {
	return ftz32(fma32(dazBF16(x), dazBF16(y), dazBF16(acc)))
}

// DPBF16PSLane emulates one float32 lane of VDPBF16PS: given the accumulator acc
// and the bf16 pairs (a0, a1) and (b0, b1) of one dword of each source, it returns
// acc + a1·b1 + a0·b0 evaluated as Intel documents it: the odd (upper) pair first,
// then the even one, each step rounded to nearest even, with DAZ and FTZ (denormal
// inputs read as zero, denormal results flushed to zero) regardless of MXCSR, and
// no exceptions. bf16·bf16 products are exact in float32 within its normal range, so
// each step is a single rounding of acc + product.
func DPBF16PSLane(acc float32, a0, a1, b0, b1 uint16) float32 {
	acc = dpbf16Step(acc, F32FromBF16(a1), F32FromBF16(b1))
	return dpbf16Step(acc, F32FromBF16(a0), F32FromBF16(b0))
}
