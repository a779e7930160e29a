package cpu

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// bf16Ref rounds x to bf16 by comparing distances in float64: the reference for
// BF16FromF32 on non-NaN inputs (ties to the even significand).
func bf16Ref(x float32) uint16 {
	u := math.Float32bits(x)
	lo := uint16(u >> 16) // truncation: toward zero in magnitude
	hi := lo + 1          // next bf16 away from zero (may be Inf)
	dx := math.Abs(float64(x))
	dlo := dx - math.Abs(float64(F32FromBF16(lo)))
	dhi := math.Abs(float64(F32FromBF16(hi))) - dx
	if lo&0x7fff == 0x7f7f && dhi != dhi { // hi would be past Inf: impossible here
		panic("bad")
	}
	if math.IsInf(float64(F32FromBF16(hi)), 0) {
		// Beyond the largest bf16: overflow to Inf from halfway to the next
		// (unrepresentable) power of two, as IEEE rounding does.
		dhi = math.Ldexp(1, 128) - dx
	}
	switch {
	case u&0xffff == 0:
		return lo
	case dlo < dhi:
		return lo
	case dhi < dlo:
		return hi
	case lo&1 == 0:
		return lo
	default:
		return hi
	}
}

func TestBF16FromF32(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x00000000, 0x0000},
		{0x80000000, 0x8000},
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + 2⁻⁸: tie, to even 1
		{0x3f818000, 0x3f82}, // 1 + 3·2⁻⁸: tie, to even
		{0x3f808001, 0x3f81}, // just above the tie
		{0x3f807fff, 0x3f80}, // just below the tie
		{0xbf808001, 0xbf81}, // negative
		{0x7f7fffff, 0x7f80}, // max float32 rounds to +Inf
		{0x7f7f7fff, 0x7f7f}, // below the halfway point stays finite
		{0xff7fffff, 0xff80}, // to -Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00000, 0x7fc0}, // quiet NaN
		{0x7f800001, 0x7fc0}, // signalling NaN, low payload: quiet NaN, not Inf
		{0xff812345, 0xffc1}, // negative signalling NaN: sign and upper payload kept
		{0x7fff0000, 0x7fff}, // quiet NaN with payload
		{0x00000001, 0x0000}, // smallest denormal rounds to +0
		{0x80008000, 0x8000}, // denormal tie to even: -0
		{0x00018000, 0x0002}, // denormal tie to even
		{0x00400000, 0x0040}, // denormal, exact
		{0x007fffff, 0x0080}, // largest denormal rounds up to the smallest normal
	} {
		if got := BF16FromF32(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("BF16FromF32(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	// Every bf16 value widens and narrows back to itself; NaNs come back quiet.
	for h := range 1 << 16 {
		want := uint16(h)
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			want |= 0x40
		}
		if got := BF16FromF32(F32FromBF16(uint16(h))); got != want {
			t.Fatalf("round trip of %#04x gives %#04x", h, got)
		}
	}
	// Random float32 bit patterns (all classes) against the distance reference.
	r := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		u := r.Uint32()
		if r.IntN(4) == 0 {
			u = u&0xffff0000 | 0x8000 // exact ties
		}
		x := math.Float32frombits(u)
		got := BF16FromF32(x)
		if x != x {
			if g := F32FromBF16(got); g == g || got&0x40 == 0 || got&0x8000 != uint16(u>>16)&0x8000 {
				t.Fatalf("BF16FromF32(NaN %#08x) = %#04x, want a quiet NaN of the same sign", u, got)
			}
			continue
		}
		if want := bf16Ref(x); got != want {
			t.Fatalf("BF16FromF32(%#08x) = %#04x, want %#04x", u, got, want)
		}
	}
}

// TestBF16SliceConversions checks every variant of the slice conversions bit for bit
// against the scalar ones, over lengths that exercise the vector body and the tail.
func TestBF16SliceConversions(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	specials := []uint32{0x7fc00000, 0x7f800001, 0xff812345, 0x7f800000, 0xff800000, 0x00000001,
		0x80008000, 0x3f808000, 0x3f818000, 0x7f7fffff, 0, 0x80000000}
	forEachVariant(t, FamilyBF16Convert, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
			src := make([]float32, n)
			for i := range src {
				u := r.Uint32()
				if i%5 == 0 {
					u = specials[r.IntN(len(specials))]
				}
				src[i] = math.Float32frombits(u)
			}
			dst := make([]uint16, n+3)
			for i := range dst {
				dst[i] = 0xdead
			}
			if got := BF16FromF32Slice(dst, src); got != n {
				t.Fatalf("BF16FromF32Slice converted %d of %d", got, n)
			}
			for i := range dst {
				want := uint16(0xdead)
				if i < n {
					want = BF16FromF32(src[i])
				}
				if dst[i] != want {
					t.Fatalf("n=%d: narrow[%d] of %#08x = %#04x, want %#04x", n, i, math.Float32bits(src[i]), dst[i], want)
				}
			}
			back := make([]float32, n+3)
			for i := range back {
				back[i] = 7
			}
			if got := F32FromBF16Slice(back, dst[:n]); got != n {
				t.Fatalf("F32FromBF16Slice converted %d of %d", got, n)
			}
			// A shorter destination bounds the conversion, like copy.
			if n > 0 {
				short := make([]float32, n-1)
				if got := F32FromBF16Slice(short, dst[:n]); got != n-1 {
					t.Fatalf("F32FromBF16Slice into %d converted %d", n-1, got)
				}
			}
			for i := range back {
				want := math.Float32bits(7)
				if i < n {
					want = uint32(dst[i]) << 16
				}
				if math.Float32bits(back[i]) != want {
					t.Fatalf("n=%d: widen[%d] = %#08x, want %#08x", n, i, math.Float32bits(back[i]), want)
				}
			}
		}
	})
}

// exactFMA32 is x·y+z rounded once to float32, computed with big.Float.
func exactFMA32(x, y, z float32) float32 {
	if math.IsInf(float64(x), 0) || math.IsInf(float64(y), 0) || math.IsInf(float64(z), 0) ||
		x != x || y != y || z != z {
		return float32(float64(x)*float64(y) + float64(z)) // exact for special operands
	}
	bx, by, bz := big.NewFloat(float64(x)), big.NewFloat(float64(y)), big.NewFloat(float64(z))
	p := new(big.Float).SetPrec(400).Mul(bx, by)
	s := new(big.Float).SetPrec(400).Add(p, bz)
	f, _ := s.Float32()
	if f == 0 && s.Sign() == 0 {
		// An exact zero sum is +0 in round-to-nearest, unless both terms are -0.
		if math.Signbit(float64(float32(float64(x)*float64(y)))) && math.Signbit(float64(z)) {
			return float32(math.Copysign(0, -1))
		}
		return 0
	}
	return f
}

// TestFMA32 checks the float32 fused multiply-add emulation against exact rounding,
// including denormal results, ties and cancellation.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	randF := func() float32 {
		switch r.IntN(6) {
		case 0: // denormal
			return math.Float32frombits(r.Uint32() & 0x807fffff)
		case 1: // small
			return float32(math.Ldexp(r.NormFloat64(), -70+r.IntN(10)))
		case 2: // bf16 value
			return F32FromBF16(uint16(r.Uint32()) & 0xbfff)
		default:
			return float32(r.NormFloat64())
		}
	}
	check := func(x, y, z float32) {
		got, want := fma32(x, y, z), exactFMA32(x, y, z)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#08x), want %g (%#08x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	for range 100000 {
		x, y, z := randF(), randF(), randF()
		check(x, y, z)
		check(x, y, -x*y) // cancellation
	}
	// Double-rounding trap: 1 + 2⁻²⁴ + 2⁻⁸⁰ must round up.
	check(float32(math.Ldexp(1, -40)), float32(math.Ldexp(1, -40)), 1+float32(math.Ldexp(1, -23)))
	check(1, float32(math.Ldexp(1, -24)), 1)
	inf := float32(math.Inf(1))
	check(inf, 0, 1)
	check(math.MaxFloat32, 2, float32(math.Inf(-1)))
	check(math.MaxFloat32, 2, -math.MaxFloat32)
}

// refGemmBF16 is the float64 product of the bf16 inputs and, per element, the sum of
// |products| that bounds the float32 rounding error.
func refGemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) (val, mag []float64) {
	val, mag = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				x := float64(F32FromBF16(a[ai])) * float64(F32FromBF16(b[bi]))
				s += x
				sa += math.Abs(x)
			}
			s *= float64(alpha)
			sa *= math.Abs(float64(alpha))
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
				sa += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			val[i*n+j], mag[i*n+j] = s, sa
		}
	}
	return val, mag
}

func randBF16(r *rand.Rand, n int, scale float64) []uint16 {
	s := make([]uint16, n)
	for i := range s {
		s[i] = BF16FromF32(float32(r.NormFloat64() * scale))
	}
	return s
}

func sameBits(x, y float32) bool {
	return math.Float32bits(x) == math.Float32bits(y) || (x != x && y != y)
}

type bf16Case struct {
	m, n, k int
	scale   float64 // of the inputs: 1, or tiny to reach float32 denormals
}

func bf16Cases() []bf16Case {
	return []bf16Case{
		{1, 1, 1, 1}, {7, 5, 3, 1}, {6, 16, 256, 1}, {13, 33, 257, 1}, {12, 32, 600, 1},
		{1, 100, 9, 1}, {100, 1, 9, 1}, {37, 19, 513, 1},
		{170, 130, 200, 1}, // parallel bands (m·n·k ≥ parallelMinMACs)
		{9, 17, 40, 1e-20}, // products and sums in float32's denormal range
		{30, 200, 300, 1},  // n > bf16DirectMaxN: A widened into panels
	}
}

// TestSgemmBF16 checks every variant of SgemmBF16 against a float64 reference within
// the float32 summation bound, and bit for bit against the portable "go" variant
// (whose order all variants share), in all four transpositions, with beta 0 (NaN
// in C), 1 and 0.5 and padded leading dimensions whose padding must stay untouched.
func TestSgemmBF16(t *testing.T) {
	goV := bf16Kernels.impls[len(bf16Kernels.impls)-1].k
	if bf16Kernels.impls[len(bf16Kernels.impls)-1].name != "go" {
		t.Fatal("the portable variant is not last")
	}
	forEachVariant(t, FamilyGemmBF16, func(t *testing.T) {
		r := rand.New(rand.NewPCG(17, 18))
		for _, tc := range bf16Cases() {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, beta := range []float32{0, 1, 0.5} {
					name := fmt.Sprintf("%+v trans=%v beta=%v", tc, tr, beta)
					transA, transB := tr[0], tr[1]
					pad := (tc.m + tc.n + tc.k) % 2 * 3
					ar, ac := tc.m, tc.k
					if transA {
						ar, ac = ac, ar
					}
					br, bc := tc.k, tc.n
					if transB {
						br, bc = bc, br
					}
					lda, ldb, ldc := ac+pad, bc+pad, tc.n+pad+1
					a, b := randBF16(r, ar*lda, tc.scale), randBF16(r, br*ldb, tc.scale)
					c := randSlice(r, tc.m*ldc)
					for i := range c {
						c[i] *= float32(tc.scale * tc.scale)
						if beta == 0 && i%3 == 0 {
							c[i] = float32(math.NaN())
						}
					}
					alpha := float32(1.5)
					want, mag := refGemmBF16(transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, c, ldc)
					got := append([]float32(nil), c...)
					if err := SgemmBF16(transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, got, ldc); err != nil {
						t.Fatal(err)
					}
					ref := append([]float32(nil), c...)
					if err := sgemmBF16(goV, transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, ref, ldc); err != nil {
						t.Fatal(err)
					}
					for i := range tc.m {
						for j := range ldc {
							g := got[i*ldc+j]
							if !sameBits(g, ref[i*ldc+j]) {
								t.Fatalf("%s: C[%d,%d] = %#08x, the go variant gives %#08x", name, i, j, math.Float32bits(g), math.Float32bits(ref[i*ldc+j]))
							}
							if j >= tc.n {
								if math.Float32bits(g) != math.Float32bits(c[i*ldc+j]) {
									t.Fatalf("%s: padding C[%d,%d] changed", name, i, j)
								}
								continue
							}
							// γ_(k+2) bound of float32 summation, plus the denormal spacing.
							tol := float64(tc.k+2)*0x1p-24*mag[i*tc.n+j] + float64(tc.k+2)*0x1p-149
							if d := math.Abs(float64(g) - want[i*tc.n+j]); !(d <= tol) {
								t.Fatalf("%s: C[%d,%d] = %g, want %g (tol %g)", name, i, j, g, want[i*tc.n+j], tol)
							}
						}
					}
				}
			}
		}
	})
}

// TestSgemmBF16Special checks infinities and NaN inputs: each variant gives the go
// variant's result (NaN where the go variant has NaN).
func TestSgemmBF16Special(t *testing.T) {
	goV := bf16Kernels.impls[len(bf16Kernels.impls)-1].k
	forEachVariant(t, FamilyGemmBF16, func(t *testing.T) {
		r := rand.New(rand.NewPCG(19, 20))
		const m, n, k = 13, 35, 70
		a, b := randBF16(r, m*k, 1), randBF16(r, k*n, 1)
		a[3], a[k+5], b[7*n+2] = 0x7f80, 0xff80, 0x7fc0 // +Inf, -Inf, NaN
		b[2*n+1] = 0x7f7f                               // large: products overflow
		got, ref := make([]float32, m*n), make([]float32, m*n)
		if err := SgemmBF16(false, false, m, n, k, 1, a, k, b, n, 0, got, n); err != nil {
			t.Fatal(err)
		}
		if err := sgemmBF16(goV, false, false, m, n, k, 1, a, k, b, n, 0, ref, n); err != nil {
			t.Fatal(err)
		}
		nan := 0
		for i := range got {
			if !sameBits(got[i], ref[i]) {
				t.Fatalf("C[%d] = %g, go variant %g", i, got[i], ref[i])
			}
			if got[i] != got[i] {
				nan++
			}
		}
		if nan == 0 {
			t.Fatal("no NaN in C from NaN and opposite infinities in the inputs")
		}
	})
}

func TestSgemmBF16Errors(t *testing.T) {
	c := make([]float32, 4)
	for _, tc := range []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"negative", func() error { return SgemmBF16(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, c, 2) }, "negative size"},
		{"short A", func() error {
			return SgemmBF16(false, false, 2, 2, 2, 1, make([]uint16, 3), 2, make([]uint16, 4), 2, 0, c, 2)
		}, "A has 3 elements"},
		{"ldb", func() error {
			return SgemmBF16(false, false, 2, 2, 2, 1, make([]uint16, 4), 2, make([]uint16, 4), 1, 0, c, 2)
		}, "leading dimension of B"},
		{"short C", func() error {
			return SgemmBF16(false, false, 2, 3, 2, 1, make([]uint16, 4), 2, make([]uint16, 6), 3, 0, c, 3)
		}, "C has 4 elements"},
	} {
		err := tc.run()
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	// k = 0 scales C by beta.
	c = []float32{1, 2, float32(math.NaN()), 4}
	if err := SgemmBF16(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	for i, x := range c {
		if x != 0 {
			t.Fatalf("k=0 beta=0: c[%d] = %v", i, x)
		}
	}
}

// TestDPBF16PSEmulation checks the documented properties of the VDPBF16PS emulation
// with hand-computed values: the odd pair is added first, each step rounds to
// nearest even, denormal inputs are read as zero and denormal results flushed to a
// zero of the same sign; and SgemmBF16Pairs reduces in that pair order.
func TestDPBF16PSEmulation(t *testing.T) {
	bf := func(x float64) uint16 {
		h := BF16FromF32(float32(x))
		if float64(F32FromBF16(h)) != x {
			panic(fmt.Sprintf("%g is not a bf16 value", x))
		}
		return h
	}
	one, minusOne, tiny := bf(1), bf(-1), bf(0x1p-24)
	for _, tc := range []struct {
		name           string
		acc            float32
		a0, a1, b0, b1 uint16
		want           float32
	}{
		// Odd pair first: (1 + -1) + 2⁻²⁴ = 2⁻²⁴; even first would give 1 + 2⁻²⁴ → 1, - 1 = 0.
		{"odd pair first", 1, tiny, minusOne, one, one, 0x1p-24},
		// Each step rounds: 1 + 2⁻²⁴ is a tie, to even 1.
		{"round to nearest even", 1, tiny, tiny, one, one, 1},
		{"ties up to even", 1 + 0x1p-23, tiny, 0, one, 0, 1 + 0x1p-22},
		// A bf16 denormal (2⁻¹³³) times 2¹⁰ would be the normal 2⁻¹²³: DAZ gives 0.
		{"denormal input is zero", 0, 0x0001, 0, bf(0x1p10), 0, 0},
		// 2⁻⁷⁰·2⁻⁶⁰ = 2⁻¹³⁰ is a float32 denormal: flushed.
		{"denormal result flushed", 0, bf(0x1p-70), 0, bf(0x1p-60), 0, 0},
		{"normal result kept", 0, bf(0x1p-60), 0, bf(0x1p-60), 0, 0x1p-120},
		{"accumulates", 0.5, bf(3), bf(2), bf(0.25), bf(-1), 0.5 - 2 + 0.75},
	} {
		got := DPBF16PSLane(tc.acc, tc.a0, tc.a1, tc.b0, tc.b1)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("%s: DPBF16PSLane = %g (%#08x), want %g", tc.name, got, math.Float32bits(got), tc.want)
		}
	}
	// A flushed negative denormal is -0.
	if got := DPBF16PSLane(0, bf(-0x1p-70), 0, bf(0x1p-60), 0); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("flushed negative denormal = %g, want -0", got)
	}
	if got := DPBF16PSLane(0, 0x7fc0, 0, one, 0); got == got {
		t.Errorf("NaN input gives %g, want NaN", got)
	}

	// GEMM level, k = 4, products [1, 0, 2⁻²⁴, -1]: the sequential order gives
	// ((1+0)+2⁻²⁴)-1 = 0, the pair order ((0+1)+(-1))+2⁻²⁴ = 2⁻²⁴.
	a := []uint16{one, one, one, one}
	b := []uint16{one, 0, tiny, minusOne}
	seq, pairs := []float32{9}, []float32{9}
	if err := SgemmBF16(false, false, 1, 1, 4, 1, a, 4, b, 1, 0, seq, 1); err != nil {
		t.Fatal(err)
	}
	if err := SgemmBF16Pairs(false, false, 1, 1, 4, 1, a, 4, b, 1, 0, pairs, 1); err != nil {
		t.Fatal(err)
	}
	if seq[0] != 0 || pairs[0] != 0x1p-24 {
		t.Errorf("k=4 ordering: SgemmBF16 = %g (want 0), SgemmBF16Pairs = %g (want 2⁻²⁴)", seq[0], pairs[0])
	}
	// DAZ at GEMM level: SgemmBF16 keeps the denormal input, the pairs mode drops it.
	a, b = []uint16{0x0001}, []uint16{bf(0x1p10)}
	if err := SgemmBF16(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, seq, 1); err != nil {
		t.Fatal(err)
	}
	if err := SgemmBF16Pairs(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, pairs, 1); err != nil {
		t.Fatal(err)
	}
	if seq[0] != 0x1p-123 || pairs[0] != 0 {
		t.Errorf("denormal input: SgemmBF16 = %g (want 2⁻¹²³), SgemmBF16Pairs = %g (want 0)", seq[0], pairs[0])
	}

	// On ordinary data the pairs mode is a float32 product within the summation bound.
	r := rand.New(rand.NewPCG(21, 22))
	const m, n, k = 9, 21, 301
	ra, rb := randBF16(r, m*k, 1), randBF16(r, k*n, 1)
	c := make([]float32, m*n)
	if err := SgemmBF16Pairs(false, false, m, n, k, 1, ra, k, rb, n, 0, c, n); err != nil {
		t.Fatal(err)
	}
	want, mag := refGemmBF16(false, false, m, n, k, 1, ra, k, rb, n, 0, nil, n)
	for i := range c {
		if d := math.Abs(float64(c[i]) - want[i]); !(d <= float64(k+2)*0x1p-24*mag[i]) {
			t.Fatalf("pairs: C[%d] = %g, want %g", i, c[i], want[i])
		}
	}
}

func benchSgemmBF16(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(3, 4))
	a, bm, c := randBF16(r, m*k, 1), randBF16(r, k*n, 1), make([]float32, m*n)
	flops := 2 * float64(m) * float64(n) * float64(k)
	var best time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := SgemmBF16(false, false, m, n, k, 1, a, k, bm, n, 0, c, n); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
}

func BenchmarkSgemmBF16(b *testing.B) {
	benchVariants(b, FamilyGemmBF16, func(b *testing.B) {
		if KernelVariant(FamilyGemmBF16) == "go" {
			b.Skip("the portable reference is far slower")
		}
		b.Run("1024", func(b *testing.B) { benchSgemmBF16(b, 1024, 1024, 1024) })
		b.Run("32768x64x576", func(b *testing.B) { benchSgemmBF16(b, 32768, 64, 576) })
	})
}
