package parity

import (
	"math"
	"testing"
)

func TestLossTol(t *testing.T) {
	for _, c := range []struct {
		s, want float64
	}{
		{0, 1e-7},                      // relative floor
		{1, 1e-5},                      // relative tolerance below the cap
		{50, 5e-4},                     // relative tolerance below the cap
		{550, 1e-3},                    // F1 recon: capped at 1e-3 (4 ulp = 2.4e-4)
		{4000, 1e-3},                   // 4 ulp = 4·2^-12 ≈ 9.8e-4 < 1e-3: the cap holds
		{4800, 4 * math.Ldexp(1, -11)}, // F2 recon: ulp(4800) = 2^-11, 4 ulp ≈ 1.95e-3 > 1e-3
		{2e4, 4 * math.Ldexp(1, -9)},   // ulp(2e4) = 2^-9 ≈ 1.95e-3: 4 ulp = 7.8e-3
		{-2e4, 4 * math.Ldexp(1, -9)},  // sign does not matter
		{16384, 4 * math.Ldexp(1, -9)}, // exactly a power of two: the spacing above it
		{1e6, 4 * math.Ldexp(1, -4)},   // ulp(1e6) = 2^-4
	} {
		if got := LossTol(c.s); math.Abs(got-c.want) > 1e-12*math.Max(1, c.want) {
			t.Errorf("LossTol(%g) = %.6g, want %.6g", c.s, got, c.want)
		}
	}
}

func TestUlp32(t *testing.T) {
	for _, c := range []struct{ s, want float64 }{
		{1, math.Ldexp(1, -23)},
		{1.5, math.Ldexp(1, -23)},
		{2, math.Ldexp(1, -22)},
		{2e4, math.Ldexp(1, -9)},
		{0, math.Ldexp(1, -149)}, // smallest subnormal
		{math.MaxFloat32, math.Inf(1)},
		{1e40, math.Inf(1)},
	} {
		if got := ulp32(c.s); got != c.want {
			t.Errorf("ulp32(%g) = %g, want %g", c.s, got, c.want)
		}
	}
}
