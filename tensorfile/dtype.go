package tensorfile

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Element types, spelled as in the safetensors header. Named.DType holds one of these.
const (
	F64  = "F64"
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U8   = "U8"
	BOOL = "BOOL"
)

// dtypeSize returns the byte size of one element of dt, or 0 for an unknown dtype.
func dtypeSize(dt string) int {
	switch dt {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// elemDecoder returns a function converting one stored element (the first
// dtypeSize(dt) bytes of b) to float32, or nil for an unknown dtype.
func elemDecoder(dt string, order binary.ByteOrder) func(b []byte) float32 {
	switch dt {
	case F64:
		return func(b []byte) float32 { return float32(math.Float64frombits(order.Uint64(b))) }
	case F32:
		return func(b []byte) float32 { return math.Float32frombits(order.Uint32(b)) }
	case F16:
		return func(b []byte) float32 { return halfToFloat32(order.Uint16(b)) }
	case BF16:
		return func(b []byte) float32 { return math.Float32frombits(uint32(order.Uint16(b)) << 16) }
	case I64:
		return func(b []byte) float32 { return float32(int64(order.Uint64(b))) }
	case I32:
		return func(b []byte) float32 { return float32(int32(order.Uint32(b))) }
	case I16:
		return func(b []byte) float32 { return float32(int16(order.Uint16(b))) }
	case I8:
		return func(b []byte) float32 { return float32(int8(b[0])) }
	case U8:
		return func(b []byte) float32 { return float32(b[0]) }
	case BOOL:
		return func(b []byte) float32 {
			if b[0] != 0 {
				return 1
			}
			return 0
		}
	}
	return nil
}

// decodeElems converts len(dst) consecutive elements of type dt from src.
// src must hold exactly len(dst)*dtypeSize(dt) bytes.
func decodeElems(dst []float32, src []byte, dt string, order binary.ByteOrder) {
	sz := dtypeSize(dt)
	if len(src) != len(dst)*sz {
		panic(fmt.Sprintf("tensorfile: decodeElems: %d bytes for %d %s elements", len(src), len(dst), dt))
	}
	if dt == F32 && order == binary.LittleEndian {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return
	}
	dec := elemDecoder(dt, order)
	for i := range dst {
		dst[i] = dec(src[i*sz:])
	}
}

// encodeElems appends the little-endian encoding of data as dtype dt to buf.
// Integer and boolean dtypes require integral values in range.
func encodeElems(buf []byte, data []float32, dt string) ([]byte, error) {
	le := binary.LittleEndian
	switch dt {
	case F32:
		for _, v := range data {
			buf = le.AppendUint32(buf, math.Float32bits(v))
		}
	case F64:
		for _, v := range data {
			buf = le.AppendUint64(buf, math.Float64bits(float64(v)))
		}
	case F16:
		for _, v := range data {
			buf = le.AppendUint16(buf, float32ToHalf(v))
		}
	case BF16:
		for _, v := range data {
			buf = le.AppendUint16(buf, float32ToBF16(v))
		}
	case I64, I32, I16, I8, U8, BOOL:
		if err := checkRepresentable(data, dt); err != nil {
			return nil, err
		}
		for _, v := range data {
			f := float64(v)
			switch dt {
			case I64:
				buf = le.AppendUint64(buf, uint64(int64(f)))
			case I32:
				buf = le.AppendUint32(buf, uint32(int32(f)))
			case I16:
				buf = le.AppendUint16(buf, uint16(int16(f)))
			case I8:
				buf = append(buf, byte(int8(f)))
			default:
				buf = append(buf, byte(f))
			}
		}
	default:
		return nil, fmt.Errorf("unknown dtype %q", dt)
	}
	return buf, nil
}

// checkRepresentable reports an error when a value of data cannot be stored
// exactly as dtype dt (a non-integral or out-of-range value for an integer dtype).
func checkRepresentable(data []float32, dt string) error {
	lo, hi := intRange(dt)
	if lo > hi { // floating-point dtype: anything goes
		return nil
	}
	for i, v := range data {
		f := float64(v)
		if f != math.Trunc(f) || f < lo || f > hi {
			return fmt.Errorf("element %d = %v is not representable as %s", i, v, dt)
		}
	}
	return nil
}

// intRange is the closed range of values an integer dtype can hold (lo > hi for
// the floating-point dtypes). For I64 the upper bound is the largest float32
// below 2^63.
func intRange(dt string) (lo, hi float64) {
	switch dt {
	case I64:
		return -(1 << 63), float64(math.Nextafter32(1<<63, 0))
	case I32:
		return math.MinInt32, math.MaxInt32
	case I16:
		return math.MinInt16, math.MaxInt16
	case I8:
		return math.MinInt8, math.MaxInt8
	case U8:
		return 0, math.MaxUint8
	case BOOL:
		return 0, 1
	}
	return 0, -1
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 (exactly).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: value = man * 2^-24, exact in float32.
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// float32ToHalf converts f to binary16 with round-to-nearest-even; values too
// large become ±Inf and NaN stays NaN.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 // quiet NaN
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): the result is round(|f| * 2^24).
		if e < -10 {
			return sign // rounds to zero (|f| < 2^-25)
		}
		m := man | 0x800000       // 24-bit significand, value = m * 2^(exp-150)
		shift := uint32(14 - e)   // = 126 - exp, so result = m >> shift
		half := m >> shift        // truncated
		rem := m & (1<<shift - 1) // remainder bits
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf: that is the correct rounding
	}
	return sign | uint16(h)
}

// float32ToBF16 converts f to bfloat16 with round-to-nearest-even.
func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
