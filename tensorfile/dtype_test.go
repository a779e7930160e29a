package tensorfile

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 6.103515625e-05},         // smallest normal
		{0x0001, 5.9604644775390625e-08},  // smallest subnormal
		{0x03ff, 6.097555160522461e-05},   // largest subnormal
		{0x8001, -5.9604644775390625e-08}, // negative subnormal
		{0x7c00, float32(math.Inf(1))},    // +Inf
		{0xfc00, float32(math.Inf(-1))},   // -Inf
		{0x3bff, 0.99951171875},           // just below 1
		{0x5640, 100},                     // integer
		{0xd3c0, -62},                     // negative integer
		{0x1400, 0.0009765625},            // 2^-10
		{0x4248, 3.140625},                // pi rounded
		{0x2e66, 0.0999755859375},         // 0.1 rounded
		{0x8000, float32(math.Copysign(0, -1))},
	}
	for _, tc := range tests {
		got := halfToFloat32(tc.h)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if v := halfToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("halfToFloat32(0x7e00) = %v, want NaN", v)
	}
}

// TestFloat32ToHalf checks that every half value survives a round trip and that
// rounding picks the nearest half value, ties to even.
func TestFloat32ToHalf(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN
		}
		if got := float32ToHalf(halfToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("round trip of %#04x gave %#04x", h, got)
		}
	}
	cases := []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00}, // tie, even below
		{1 + 3.0/2048, 0x3c02}, // tie, even above
		{1 + 1.0/2048 + 1.0/65536, 0x3c01},
		{65519, 0x7bff},
		{65520, 0x7c00}, // tie rounds up to Inf
		{1e10, 0x7c00},
		{-1e10, 0xfc00},
		{0x1p-25, 0x0000},        // tie with zero: even
		{0x1.000002p-25, 0x0001}, // just above the tie
		{0x3p-25, 0x0002},        // 1.5 ulp: even
		{0x1p-30, 0x0000},
		{0x1.ffcp-15, 0x0400}, // rounds up from subnormal to the smallest normal
		{float32(math.Copysign(0, -1)), 0x8000},
	}
	for _, tc := range cases {
		if got := float32ToHalf(tc.f); got != tc.want {
			t.Errorf("float32ToHalf(%v) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
	if got := float32ToHalf(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("float32ToHalf(NaN) = %#04x, not a NaN", got)
	}

	// Nearest-value property on random inputs within the half range.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		x := float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(40)-24))
		h := float32ToHalf(x)
		got := float64(halfToFloat32(h))
		d := math.Abs(got - float64(x))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 {
				continue
			}
			nd := math.Abs(float64(halfToFloat32(nb)) - float64(x))
			if nd < d || (nd == d && h&1 == 1 && nb&0x7fff != 0x7fff) {
				t.Fatalf("float32ToHalf(%v) = %#04x (%v); neighbour %#04x (%v) is nearer or the even tie",
					x, h, got, nb, halfToFloat32(nb))
			}
		}
	}
}

func TestBF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			continue // NaN
		}
		f := math.Float32frombits(uint32(h) << 16)
		if got := float32ToBF16(f); got != uint16(h) {
			t.Fatalf("bf16 round trip of %#04x gave %#04x", h, got)
		}
	}
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{1 + 1.0/256, 0x3f80}, // tie, even below
		{1 + 3.0/256, 0x3f82}, // tie, even above
		{1 + 1.0/256 + 1.0/4096, 0x3f81},
		{-2, 0xc000},
	}
	for _, tc := range cases {
		if got := float32ToBF16(tc.f); got != tc.want {
			t.Errorf("float32ToBF16(%v) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
	if got := float32ToBF16(float32(math.NaN())); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("float32ToBF16(NaN) = %#04x, not a NaN", got)
	}
}

func TestEncodeDecodeElems(t *testing.T) {
	values := map[string][]float32{
		F64:  {0, -1.5, 3.25e10, float32(math.Inf(1))},
		F32:  {0, -1.5, 3.1415927, 1e-40},
		F16:  {0, -1.5, 65504, 0x1p-24},
		BF16: {0, -1.5, 3.3895314e38, 0x1p-133},
		I64:  {0, -1, 1 << 40, -(1 << 62)},
		I32:  {0, -1, math.MaxInt32 - 127, math.MinInt32},
		I16:  {0, -1, math.MaxInt16, math.MinInt16},
		I8:   {0, -1, 127, -128},
		U8:   {0, 1, 200, 255},
		BOOL: {0, 1, 1, 0},
	}
	for dt, vals := range values {
		buf, err := encodeElems(nil, vals, dt)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if len(buf) != len(vals)*dtypeSize(dt) {
			t.Fatalf("%s: %d bytes for %d values", dt, len(buf), len(vals))
		}
		got := make([]float32, len(vals))
		decodeElems(got, buf, dt, binary.LittleEndian)
		for i := range vals {
			if math.Float32bits(got[i]) != math.Float32bits(vals[i]) {
				t.Errorf("%s[%d]: got %v, want %v", dt, i, got[i], vals[i])
			}
		}
	}
	bad := []struct {
		dt string
		v  float32
	}{
		{I64, 1.5}, {I64, float32(math.NaN())}, {I64, 1 << 63}, {I32, 1 << 31}, {I16, 40000},
		{I8, 128}, {U8, -1}, {U8, 256}, {BOOL, 2}, {BOOL, 0.5},
	}
	for _, tc := range bad {
		if _, err := encodeElems(nil, []float32{tc.v}, tc.dt); err == nil {
			t.Errorf("encodeElems(%v as %s): no error", tc.v, tc.dt)
		}
	}
	if _, err := encodeElems(nil, []float32{1}, "C64"); err == nil {
		t.Error("encodeElems with an unknown dtype: no error")
	}
}
