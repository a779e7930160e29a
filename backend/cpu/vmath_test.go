package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// forEachVMath runs f once per vectorised-math variant (see forEachVariant).
func forEachVMath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	forEachVariant(t, FamilyVMath, f)
}

// relErr is |got − want| / |want|, measured against the smallest normal float32 for
// results in the denormal range (so there about 2.5 denormal steps give 3e-7); NaN and
// infinities must match exactly.
func relErr(got float32, want float64) float64 {
	if math.IsNaN(want) || math.IsInf(want, 0) || math.Abs(want) > math.MaxFloat32 {
		w := float32(want)
		if (math.IsNaN(want) && got == got) || (!math.IsNaN(want) && got != w) {
			return math.Inf(1)
		}
		return 0
	}
	if math.IsNaN(float64(got)) || math.IsInf(float64(got), 0) {
		return math.Inf(1)
	}
	return math.Abs(float64(got)-want) / math.Max(math.Abs(want), 0x1p-126)
}

// maxRel is the accuracy the vectorised kernels promise (about 2.5 ulp).
const maxRel = 3e-7

func sig64(x float64) float64 {
	if x < 0 {
		e := math.Exp(x)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(-x))
}

// unaryCases are the element-wise kernels with their float64 references.
var unaryCases = []struct {
	name string
	f    func(dst, src []float32)
	ref  func(float64) float64
}{
	{"exp", ExpSlice, math.Exp},
	{"log", LogSlice, math.Log},
	{"tanh", TanhSlice, math.Tanh},
	{"sigmoid", SigmoidSlice, sig64},
	{"swish", SwishSlice, func(x float64) float64 { return x * sig64(x) }},
	{"elu", ELUSlice, func(x float64) float64 {
		if x > 0 {
			return x
		}
		return math.Expm1(x)
	}},
}

// sweep returns float32 values spread over the whole range: every step-th bit
// pattern, plus the interesting special values.
func sweep(step uint64) []float32 {
	var xs []float32
	for b := uint64(0); b < 1<<32; b += step {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1, 1e-30, -1e-30, 1e-45, -1e-45, 0.34657, -0.34657,
		88.72, 88.73, 89, 100, 1e30, -87.33, -87.34, -88, -100, -103.9, -104, -110, -1e30,
		math.MaxFloat32, -math.MaxFloat32, math.Inf(1), math.Inf(-1), math.NaN()} {
		xs = append(xs, float32(v))
	}
	return xs
}

func TestUnaryKernelsAccuracy(t *testing.T) {
	xs := sweep(997) // ≈ 4.3 million values
	for i := -1 << 20; i < 1<<20; i += 3 {
		xs = append(xs, float32(i)*(120.0/(1<<20))) // dense over [−120, 120]
	}
	got := make([]float32, len(xs))
	forEachVMath(t, func(t *testing.T) {
		for _, c := range unaryCases {
			c.f(got, xs)
			worst, at := 0.0, float32(0)
			for i, x := range xs {
				if c.name == "swish" && math.IsInf(float64(x), -1) {
					continue // −∞·σ(−∞) has no value
				}
				if e := relErr(got[i], c.ref(float64(x))); e > worst || e != e {
					worst, at = e, x
				}
			}
			t.Logf("%s: max relative error %.3g at %g", c.name, worst, at)
			if !(worst <= maxRel) {
				i := 0
				for xs[i] != at && !(at != at && xs[i] != xs[i]) {
					i++
				}
				t.Errorf("%s(%g) = %g, want %g (relative error %.3g)", c.name, at, got[i], c.ref(float64(at)), worst)
			}
		}
	})
}

func TestUnaryKernelsSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct {
		name string
		f    func(dst, src []float32)
		x    float32
		want float32
	}{
		{"exp", ExpSlice, -100, float32(math.Exp(-100))},
		{"exp", ExpSlice, -104, 0},
		{"exp", ExpSlice, -1e30, 0},
		{"exp", ExpSlice, -inf, 0},
		{"exp", ExpSlice, 0, 1},
		{"exp", ExpSlice, 100, inf},
		{"exp", ExpSlice, inf, inf},
		{"exp", ExpSlice, nan, nan},
		{"log", LogSlice, 0, float32(math.Inf(-1))},
		{"log", LogSlice, float32(math.Copysign(0, -1)), float32(math.Inf(-1))},
		{"log", LogSlice, -1, nan},
		{"log", LogSlice, -inf, nan},
		{"log", LogSlice, inf, inf},
		{"log", LogSlice, nan, nan},
		{"log", LogSlice, 1, 0},
		{"log", LogSlice, 0x1p-149, float32(-149 * math.Ln2)},
		{"tanh", TanhSlice, 0, 0},
		{"tanh", TanhSlice, inf, 1},
		{"tanh", TanhSlice, -inf, -1},
		{"tanh", TanhSlice, 30, 1},
		{"tanh", TanhSlice, -1e30, -1},
		{"tanh", TanhSlice, nan, nan},
		{"tanh", TanhSlice, 1e-40, 1e-40},
		{"sigmoid", SigmoidSlice, 1e30, 1},
		{"sigmoid", SigmoidSlice, inf, 1},
		{"sigmoid", SigmoidSlice, -200, 0},
		{"sigmoid", SigmoidSlice, -inf, 0},
		{"sigmoid", SigmoidSlice, 0, 0.5},
		{"sigmoid", SigmoidSlice, nan, nan},
		{"swish", SwishSlice, 1e30, 1e30},
		{"swish", SwishSlice, inf, inf},
		{"swish", SwishSlice, -200, 0},
		{"swish", SwishSlice, -1e30, 0},
		{"swish", SwishSlice, -inf, 0},
		{"swish", SwishSlice, 0, 0},
		{"swish", SwishSlice, nan, nan},
		{"elu", ELUSlice, 3, 3},
		{"elu", ELUSlice, inf, inf},
		{"elu", ELUSlice, -inf, -1},
		{"elu", ELUSlice, -100, -1},
		{"elu", ELUSlice, 0, 0},
		{"elu", ELUSlice, nan, nan},
	}
	forEachVMath(t, func(t *testing.T) {
		for _, c := range cases {
			// in a full vector and in a remainder
			for _, n := range []int{1, 3, 16, 19, 40} {
				src := make([]float32, n)
				for i := range src {
					src[i] = c.x
				}
				dst := make([]float32, n)
				c.f(dst, src)
				for i, y := range dst {
					if !(y == c.want || (y != y && c.want != c.want)) {
						t.Fatalf("%s(%g) = %g at %d of %d, want %g", c.name, c.x, y, i, n, c.want)
					}
				}
			}
		}
	})
}

func TestSwishBackward(t *testing.T) {
	xs := sweep(4093)
	r := rand.New(rand.NewPCG(1, 2))
	gy := make([]float32, len(xs))
	gx0 := make([]float32, len(xs))
	for i := range gy {
		gy[i] = r.Float32()*2 - 1
		gx0[i] = r.Float32()*2 - 1
	}
	forEachVMath(t, func(t *testing.T) {
		gx := append([]float32(nil), gx0...)
		SwishBackward(gx, gy, xs)
		worst := 0.0
		for i, x := range xs {
			xd := float64(x)
			s := sig64(xd)
			want := float64(gx0[i]) + float64(gy[i])*s*(1+xd*(1-s))
			// error relative to the magnitudes of the terms (the derivative has a zero)
			scale := math.Abs(float64(gx0[i])) + math.Abs(float64(gy[i]))*s*(1+math.Abs(xd)*(1-s))
			if math.IsNaN(want) || math.IsInf(xd, 0) {
				continue
			}
			e := math.Abs(float64(gx[i])-want) / math.Max(scale, 1e-38)
			if e > worst || e != e {
				worst = e
				if !(e <= maxRel) {
					t.Fatalf("SwishBackward at x=%g: gx = %g, want %g", x, gx[i], want)
				}
			}
		}
		t.Logf("max relative error %.3g", worst)
	})
}

// TestELUBackward checks every variant against the scalar definition bit for bit, on
// lengths with and without a remainder and inputs of both signs, zeros and infinities.
func TestELUBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 15, 16, 17, 1000, 4093} {
		xs := make([]float32, n)
		ys := make([]float32, n)
		gy := make([]float32, n)
		gx0 := make([]float32, n)
		for i := range xs {
			xs[i] = float32(r.NormFloat64() * 3)
			switch i % 97 {
			case 0:
				xs[i] = 0
			case 1:
				xs[i] = float32(math.Inf(-1))
			case 2:
				xs[i] = float32(math.Inf(1))
			}
			ys[i] = float32(math.Expm1(float64(min(xs[i], 0))))
			if xs[i] > 0 {
				ys[i] = xs[i]
			}
			gy[i] = r.Float32()*2 - 1
			gx0[i] = r.Float32()*2 - 1
		}
		forEachVMath(t, func(t *testing.T) {
			gx := append([]float32(nil), gx0...)
			ELUBackward(gx, gy, xs, ys)
			for i, x := range xs {
				want := gx0[i] + gy[i]
				if !(x > 0) {
					want = gx0[i] + float32(gy[i]*(ys[i]+1)) // the conversion rounds the product: no FMA
				}
				if math.Float32bits(gx[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d: ELUBackward at x=%g: gx = %g, want %g", n, x, gx[i], want)
				}
			}
		})
	}
}

// TestUnarySplitIndependent checks that each element's result is the same whether it
// is computed in a long slice, in a remainder or alone.
func TestUnarySplitIndependent(t *testing.T) {
	xs := benchData(50000, 7)
	for i := range xs {
		xs[i] *= 30
	}
	forEachVMath(t, func(t *testing.T) {
		for _, c := range unaryCases {
			all := make([]float32, len(xs))
			c.f(all, xs)
			one := make([]float32, 1)
			for i := 0; i < len(xs); i += 97 {
				c.f(one, xs[i:i+1])
				if math.Float32bits(one[0]) != math.Float32bits(all[i]) {
					t.Fatalf("%s(%g) alone = %g, in a slice %g", c.name, xs[i], one[0], all[i])
				}
			}
		}
	})
}

// TestSwishShortPathExact: the vector kernels may take a shorter path for a vector
// whose inputs all lie in [−87, 87]; it must give the same bits as the general path,
// which a vector with one input outside that range takes (lane 0 of each vector
// here).
func TestSwishShortPathExact(t *testing.T) {
	var xs []float32
	for i := -1 << 20; i <= 1<<20; i++ {
		xs = append(xs, float32(i)*(87.0/(1<<20)))
	}
	for b := uint32(0); b < 0x42ae0000; b += 1 << 10 { // every magnitude up to 87
		xs = append(xs, math.Float32frombits(b), -math.Float32frombits(b))
	}
	xs = append(xs, 87, -87, 0x1p-126, -0x1p-126, 1e-45, -1e-45, 0, float32(math.Copysign(0, -1)))
	const w = 16 // the widest vector
	for len(xs)%w != 0 {
		xs = append(xs, 1)
	}
	// poison puts −100 in lane `lane` of every `every`-th vector of 8
	poison := func(lane, every int) []float32 {
		p := slices.Clone(xs)
		for i := lane; i < len(p); i += 8 * every {
			p[i] = -100
		}
		return p
	}
	general, other := make([]float32, len(xs)), make([]float32, len(xs))
	got := make([]float32, len(xs))
	forEachVMath(t, func(t *testing.T) {
		// the general path for every input: lane 0 from a run poisoning lane 1
		SwishSlice(general, poison(0, 1))
		SwishSlice(other, poison(1, 1))
		for i := 0; i < len(xs); i += 8 {
			general[i] = other[i]
		}
		// all vectors in range (in pairs, and an odd one at the end), and every other,
		// third or fifth vector out of range
		for _, run := range []struct {
			name string
			in   []float32
		}{{"in range", xs}, {"odd count", xs[:len(xs)-8]}, {"alternate", poison(0, 2)},
			{"every third", poison(0, 3)}, {"every fifth", poison(0, 5)}, {"count 3k+1", xs[:len(xs)-16]}} {
			SwishSlice(got[:len(run.in)], run.in)
			for i := range run.in {
				if i%8 == 0 && run.in[i] != xs[i] {
					continue
				}
				if math.Float32bits(got[i]) != math.Float32bits(general[i]) {
					t.Fatalf("%s: swish(%g) = %g (%#x), on the general path %g (%#x)",
						run.name, xs[i], got[i], math.Float32bits(got[i]), general[i], math.Float32bits(general[i]))
				}
			}
		}
	})
}

func BenchmarkSwishSlice(b *testing.B) {
	x := benchData(1<<20, 1)
	y := make([]float32, len(x))
	benchVariants(b, FamilyVMath, func(b *testing.B) {
		b.SetBytes(8 << 20)
		for b.Loop() {
			SwishSlice(y, x)
		}
	})
}
