package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotF64 compares DotF64 with a float64 reference, and AxpyF64 and AxpyF32 with
// the plain loops (bit for bit) over lengths around the vector widths.
func TestDotF64(t *testing.T) { forEachVariant(t, FamilyVec, testDotF64) }

func testDotF64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1153} {
		x, y := make([]float32, n), make([]float32, n+3)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range y {
			y[i] = float32(r.NormFloat64())
		}
		want, mag := 0.0, 0.0
		for i := range x {
			want += float64(x[i]) * float64(y[i])
			mag += math.Abs(float64(x[i]) * float64(y[i]))
		}
		if got := DotF64(x, y); math.Abs(got-want) > 1e-14*(1+mag) {
			t.Errorf("n=%d: DotF64 = %v, want %v", n, got, want)
		}
		a := float64(float32(r.NormFloat64()))
		acc, ref := make([]float64, n+2), make([]float64, n+2)
		for i := range acc {
			acc[i] = r.NormFloat64()
			ref[i] = acc[i]
		}
		y32, ref32 := make([]float32, n+1), make([]float32, n+1)
		for i := range y32 {
			y32[i] = float32(r.NormFloat64())
			ref32[i] = y32[i]
		}
		a32 := float32(a)
		AxpyF32(a32, x, y32)
		for i := range x {
			ref32[i] += float32(a32 * x[i]) // the conversion forbids fusing

		}
		for i := range y32 {
			if y32[i] != ref32[i] {
				t.Errorf("n=%d: AxpyF32[%d] = %v, want %v", n, i, y32[i], ref32[i])
				break
			}
		}
		AxpyF64(a, x, acc)
		for i := range x {
			ref[i] += a * float64(x[i])
		}
		for i := range acc {
			if acc[i] != ref[i] {
				t.Errorf("n=%d: AxpyF64[%d] = %v, want %v", n, i, acc[i], ref[i])
				break
			}
		}
	}
}

// TestMulKernels compares MulAddF64, MulAddF32 and MulF32 with the plain loops, bit for
// bit, over lengths around the vector widths (the remainders run the Go loops).
func TestMulKernels(t *testing.T) { forEachVariant(t, FamilyVec, testMulKernels) }

func testMulKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 33, 100, 1153} {
		x, y := vec(n), vec(n+2)
		acc, ref := make([]float64, n+1), make([]float64, n+1)
		for i := range acc {
			acc[i] = r.NormFloat64()
			ref[i] = acc[i]
		}
		MulAddF64(x, y, acc)
		for i := range x {
			ref[i] += float64(x[i]) * float64(y[i])
		}
		for i := range acc {
			if acc[i] != ref[i] {
				t.Fatalf("n=%d: MulAddF64[%d] = %v, want %v", n, i, acc[i], ref[i])
			}
		}
		z := vec(n + 1)
		zref := append([]float32(nil), z...)
		MulAddF32(x, y, z)
		for i := range x {
			zref[i] += float32(x[i] * y[i]) // the conversion forbids fusing
		}
		for i := range z {
			if math.Float32bits(z[i]) != math.Float32bits(zref[i]) {
				t.Fatalf("n=%d: MulAddF32[%d] = %v, want %v", n, i, z[i], zref[i])
			}
		}
		MulF32(x, y, z)
		for i := range x {
			zref[i] = x[i] * y[i]
		}
		for i := range z {
			if math.Float32bits(z[i]) != math.Float32bits(zref[i]) {
				t.Fatalf("n=%d: MulF32[%d] = %v, want %v", n, i, z[i], zref[i])
			}
		}
	}
}

// specialVecs returns a maker of random vectors with an eighth of special values
// (signed zeros, infinities, NaN, a subnormal, a huge value).
func specialVecs(r *rand.Rand) func(n int) []float32 {
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -3e38}
	return func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
			if r.IntN(8) == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		return v
	}
}

// TestElementwiseF32 compares AddF32, SubF32, DivF32, DivScalarF32 and ScaleF32 with the
// plain loops, bit for bit (special values included), over lengths around the vector
// width, in place and not; nothing past len(x) is written.
func TestElementwiseF32(t *testing.T) { forEachVariant(t, FamilyVec, testElementwiseF32) }

func testElementwiseF32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vec := specialVecs(r)
	ops := []struct {
		name string
		run  func(x, y, z []float32)
		want func(x, y float32) float32
	}{
		{"AddF32", AddF32, func(x, y float32) float32 { return x + y }},
		{"SubF32", SubF32, func(x, y float32) float32 { return x - y }},
		{"DivF32", DivF32, func(x, y float32) float32 { return x / y }},
		{"DivScalarF32", func(x, _, z []float32) { DivScalarF32(x, 5, z) }, func(x, _ float32) float32 { return x / 5 }},
		{"ScaleF32", func(x, _, z []float32) { ScaleF32(x, -0.3, z) }, func(x, _ float32) float32 { return -0.3 * x }},
		{"AddScalarF32", func(x, _, z []float32) { AddScalarF32(x, 0.01, z) }, func(x, _ float32) float32 { return x + 0.01 }},
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for _, op := range ops {
		for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 100, 1031} {
			for _, inPlace := range []bool{false, true} {
				x, y := vec(n), vec(n+3)
				want := make([]float32, n)
				for i := range want {
					want[i] = op.want(x[i], y[i])
				}
				z := vec(n + 2)
				tail := append([]float32(nil), z[n:]...)
				if inPlace {
					// z's first n elements are x itself
					copy(z, x)
					x = z[:n]
				}
				op.run(x, y, z)
				for i := range want {
					if !same(z[i], want[i]) {
						t.Fatalf("%s n=%d in place=%v: [%d] = %v, want %v", op.name, n, inPlace, i, z[i], want[i])
					}
				}
				for i, v := range tail {
					if !same(z[n+i], v) {
						t.Fatalf("%s n=%d: wrote past the end at %d", op.name, n, n+i)
					}
				}
			}
		}
	}
}

// TestMulScaleAddF32 compares MulScaleAddF32 with its three separately rounded steps,
// bit for bit, special values included, also in place (z = a and z = x).
func TestMulScaleAddF32(t *testing.T) { forEachVariant(t, FamilyVec, testMulScaleAddF32) }

func testMulScaleAddF32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	vec := specialVecs(r)
	const k = float32(0.1)
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 24, 32, 100, 1031} {
		for _, alias := range []string{"none", "a", "x"} {
			x, y, a := vec(n), vec(n+3), vec(n+1)
			want := make([]float32, n)
			for i := range want {
				p := x[i] * y[i]
				q := k * p
				want[i] = a[i] + q
			}
			z := vec(n + 2)
			tail := append([]float32(nil), z[n:]...)
			switch alias {
			case "a":
				copy(z[:n], a)
				a = z[:n]
			case "x":
				copy(z[:n], x)
				x = z[:n]
			}
			MulScaleAddF32(x, y, a, k, z)
			for i := range want {
				if math.Float32bits(z[i]) != math.Float32bits(want[i]) && (z[i] == z[i] || want[i] == want[i]) {
					t.Fatalf("n=%d alias %s: [%d] = %v, want %v", n, alias, i, z[i], want[i])
				}
			}
			for i, v := range tail {
				if math.Float32bits(z[n+i]) != math.Float32bits(v) && (v == v) {
					t.Fatalf("n=%d: wrote past the end at %d", n, n+i)
				}
			}
		}
	}
}

// TestAddRowsF32 compares AddRowsF32 with the loop over rows, bit for bit, for
// channel counts the kernel takes (multiples of 8 up to 64) and others, and checks
// that nothing past c is written.
func TestAddRowsF32(t *testing.T) { forEachVariant(t, FamilyVec, testAddRowsF32) }

func testAddRowsF32(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []int{1, 8, 12, 16, 24, 32, 40, 48, 56, 64, 72, 96} {
		for _, rows := range []int{0, 1, 2, 7, 64} {
			x := make([]float32, rows*c)
			for i := range x {
				x[i] = float32(r.NormFloat64()) * float32(math.Exp2(float64(r.IntN(20)-10)))
			}
			acc := make([]float32, c+3)
			for i := range acc {
				acc[i] = float32(r.NormFloat64())
			}
			want := append([]float32(nil), acc...)
			for q := 0; q < rows; q++ {
				for j := 0; j < c; j++ {
					want[j] += x[q*c+j]
				}
			}
			AddRowsF32(acc, x, rows, c)
			for i := range acc {
				if math.Float32bits(acc[i]) != math.Float32bits(want[i]) {
					t.Fatalf("c=%d rows=%d: acc[%d] = %v, want %v", c, rows, i, acc[i], want[i])
				}
			}
		}
	}
}

// TestBilerpF32 compares BilerpF32 with the unfused scalar expression, bit for bit,
// over lengths around the vector width (the remainders run the Go loop).
func TestBilerpF32(t *testing.T) {
	forEachVariant(t, FamilyVec, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		vec := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
			return v
		}
		for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 96, 1153} {
			t0, t1, u0, u1 := vec(n), vec(n+1), vec(n), vec(n+3)
			a0, a1, b0, b1 := float32(0.75), float32(0.25), r.Float32(), r.Float32()
			d := vec(n)
			BilerpF32(d, t0, t1, u0, u1, a0, a1, b0, b1)
			for i := range d {
				top := float32(float32(b0*t0[i]) + float32(b1*t1[i]))
				bot := float32(float32(b0*u0[i]) + float32(b1*u1[i]))
				if want := float32(a0*top) + float32(a1*bot); math.Float32bits(d[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d: d[%d] = %v, want %v", n, i, d[i], want)
				}
			}
		}
	})
}
