package optim

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fma32Exact computes a·b + c exactly with big.Float and rounds once to float32.
func fma32Exact(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(400).SetFloat64(float64(a))
	y := new(big.Float).SetPrec(400).SetFloat64(float64(b))
	z := new(big.Float).SetPrec(400).SetFloat64(float64(c))
	x.Mul(x, y).Add(x, z)
	f, _ := x.Float32()
	return f
}

func TestFMA32MatchesExactRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(a, b, c float32) {
		t.Helper()
		got, want := fma32(a, b, c), fma32Exact(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), want %g (%#x)", a, b, c,
				got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	for range 200000 {
		a := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		b := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		c := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(80)-40)))
		check(a, b, c)
	}
	// Hard cases for double rounding: (1+2^-12)² = 1 + 2^-11 + 2^-24 is exactly a
	// float32 midpoint, so a tiny c decides the direction; a float64 sum would lose c
	// and then round the midpoint to even.
	const h = 1 + 0x1p-12
	for _, tc := range [][3]float32{
		{h, h, 0x1p-80},
		{h, h, -0x1p-80},
		{-h, h, 0x1p-80},
		{-h, h, -0x1p-80},
		{h, 1 + 0x1p-11, 0x1p-90},
		{1 + 0x1p-23, 1 + 0x1p-23, 0x1p-60},
		{3e-4, 1.5, -4.5e-4},
		{float32(math.Inf(1)), 1, 1},
		{math.MaxFloat32, 2, -math.MaxFloat32},
	} {
		check(tc[0], tc[1], tc[2])
	}
	// The first hard case really defeats a plain float64 evaluation.
	if naive := float32(float64(h)*float64(h) + 0x1p-80); naive == fma32Exact(h, h, 0x1p-80) {
		t.Fatalf("test case is not hard: naive float64 evaluation rounds correctly")
	}
	if v := fma32(float32(math.NaN()), 1, 1); !math.IsNaN(float64(v)) {
		t.Fatalf("fma32(NaN, 1, 1) = %g, want NaN", v)
	}
}
