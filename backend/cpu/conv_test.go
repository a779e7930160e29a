package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refConv holds float64 reference results of a convolution, each with the sum of
// the absolute values of its terms (for a tolerance that scales with the sum).
type refConv struct {
	y, yAbs     []float64
	dx, dxAbs   []float64
	dw, dwAbs   []float64
	db, dbAbs   []float64
	outH, outW  int
	params      ConvParams
	x, w, b, dy []float32
}

// naiveConv computes forward (without bias), backward-data and backward-filter by
// the definition (PyTorch cross-correlation semantics) in float64.
func naiveConv(p ConvParams, x, w, b, dy []float32) *refConv {
	oh, ow := p.OutHW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	r := &refConv{outH: oh, outW: ow, params: p, x: x, w: w, b: b, dy: dy}
	r.y = make([]float64, p.N*oh*ow*p.K)
	r.yAbs = make([]float64, len(r.y))
	r.dx = make([]float64, len(x))
	r.dxAbs = make([]float64, len(x))
	r.dw = make([]float64, len(w))
	r.dwAbs = make([]float64, len(w))
	r.db = make([]float64, p.K)
	r.dbAbs = make([]float64, p.K)
	for n := 0; n < p.N; n++ {
		for o := 0; o < oh; o++ {
			for q := 0; q < ow; q++ {
				for k := 0; k < p.K; k++ {
					yi := ((n*oh+o)*ow+q)*p.K + k
					g := dy[yi]
					r.db[k] += float64(g)
					r.dbAbs[k] += math.Abs(float64(g))
					grp := k / kg
					for kh := 0; kh < p.KH; kh++ {
						ih := o*p.StrideH - p.PadH + kh*p.DilH
						if ih < 0 || ih >= p.H {
							continue
						}
						for kw := 0; kw < p.KW; kw++ {
							iw := q*p.StrideW - p.PadW + kw*p.DilW
							if iw < 0 || iw >= p.W {
								continue
							}
							for c := 0; c < cg; c++ {
								xi := ((n*p.H+ih)*p.W+iw)*p.C + grp*cg + c
								wi := ((k*p.KH+kh)*p.KW+kw)*cg + c
								xv, wv, gv := float64(x[xi]), float64(w[wi]), float64(g)
								r.y[yi] += xv * wv
								r.yAbs[yi] += math.Abs(xv * wv)
								r.dx[xi] += gv * wv
								r.dxAbs[xi] += math.Abs(gv * wv)
								r.dw[wi] += gv * xv
								r.dwAbs[wi] += math.Abs(gv * xv)
							}
						}
					}
				}
			}
		}
	}
	return r
}

func convRandSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// compare checks got against base+want within a tolerance relative to the size of
// the terms that were summed.
func convCompare(t *testing.T, what string, got, base []float32, want, abs []float64) {
	t.Helper()
	bad := 0
	for i := range want {
		w := want[i]
		tolAbs := abs[i]
		if base != nil {
			w += float64(base[i])
			tolAbs += math.Abs(float64(base[i]))
		}
		if d := math.Abs(float64(got[i]) - w); !(d <= 1e-5*tolAbs+1e-6) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], w, d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements wrong", what, bad, len(want))
	}
}

type convCase struct {
	name string
	p    ConvParams
}

func convP(n, h, w, c, k, kh, kw, s, pad, d, g int) ConvParams {
	return ConvParams{N: n, H: h, W: w, C: c, K: k, KH: kh, KW: kw,
		StrideH: s, StrideW: s, PadH: pad, PadW: pad, DilH: d, DilW: d, Groups: g}
}

func convCases() []convCase {
	return []convCase{
		{"3x3 pad1 stride1", convP(2, 6, 5, 4, 6, 3, 3, 1, 1, 1, 1)},
		{"3x3 pad1 stride2", convP(2, 7, 8, 3, 5, 3, 3, 2, 1, 1, 1)},
		{"3x3 stride2 nopad", convP(1, 8, 9, 4, 4, 3, 3, 2, 0, 1, 1)},
		{"3x3 dil2 pad2", convP(1, 7, 6, 4, 3, 3, 3, 1, 2, 2, 1)},
		{"1x1", convP(3, 4, 5, 6, 7, 1, 1, 1, 0, 1, 1)},
		{"1x1 stride2 odd H", convP(2, 7, 6, 6, 5, 1, 1, 2, 0, 1, 1)},
		{"1x1 stride2 even H", convP(2, 8, 5, 5, 6, 1, 1, 2, 0, 1, 1)},
		{"1x1 pad1", convP(1, 3, 4, 3, 2, 1, 1, 1, 1, 1, 1)},
		{"1x1 groups2", convP(2, 3, 4, 6, 4, 1, 1, 1, 0, 1, 2)},
		{"groups8 5x5 pad2", convP(2, 6, 7, 16, 24, 5, 5, 1, 2, 1, 8)},
		{"groups2 3x3 stride2", convP(1, 7, 7, 4, 6, 3, 3, 2, 1, 1, 2)},
		{"depthwise 5x5 pad2", convP(2, 7, 9, 12, 12, 5, 5, 1, 2, 1, 12)},
		{"depthwise 3x3 stride2", convP(2, 8, 7, 5, 5, 3, 3, 2, 1, 1, 5)},
		{"depthwise 3x3 dil2 pad2", convP(1, 6, 7, 9, 9, 3, 3, 1, 2, 2, 9)},
		{"depthwise 5x5 stride2 nopad", convP(1, 9, 10, 3, 3, 5, 5, 2, 0, 1, 3)},
		{"depthwise 5x5 pad2 tiny map", convP(3, 2, 3, 20, 20, 5, 5, 1, 2, 1, 20)},
		{"depthwise 5x5 pad1 C20", convP(2, 6, 8, 20, 20, 5, 5, 1, 1, 1, 20)},
		{"depthwise 3x3 nopad C35", convP(1, 5, 7, 35, 35, 3, 3, 1, 0, 1, 35)},
		{"depthwise 5x5 stride2 pad2 C70", convP(1, 9, 11, 70, 70, 5, 5, 2, 2, 1, 70)},
		{"depthwise 7x7 pad3", convP(1, 9, 12, 16, 16, 7, 7, 1, 3, 1, 16)},
		{"depthwise multiplier2", convP(2, 5, 6, 4, 8, 3, 3, 1, 1, 1, 4)},
		{"odd N1", convP(1, 7, 5, 3, 5, 3, 3, 1, 1, 1, 1)},
		{"odd N3", convP(3, 7, 5, 3, 5, 3, 3, 1, 1, 1, 1)},
		{"5x5 kernel larger than map", convP(2, 2, 3, 3, 4, 5, 5, 1, 2, 1, 1)},
		{"asymmetric", ConvParams{N: 2, H: 7, W: 6, C: 3, K: 4, KH: 3, KW: 1,
			StrideH: 2, StrideW: 1, PadH: 1, PadW: 0, DilH: 1, DilW: 2, Groups: 1}},
		// Big enough that the parallel loops split work across workers.
		{"parallel dense", convP(4, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1)},
		{"one output channel 3x3", convP(2, 9, 7, 16, 1, 3, 3, 1, 1, 1, 1)},
		{"one output channel 5x5 nopad C13", convP(1, 8, 9, 13, 1, 5, 5, 1, 0, 1, 1)},
		{"parallel one output channel", convP(4, 32, 32, 16, 1, 3, 3, 1, 1, 1, 1)},
		{"parallel depthwise", convP(4, 16, 16, 64, 64, 5, 5, 1, 2, 1, 64)},
		{"asymmetric depthwise", ConvParams{N: 2, H: 6, W: 9, C: 6, K: 6, KH: 1, KW: 5,
			StrideH: 1, StrideW: 3, PadH: 0, PadW: 3, DilH: 2, DilW: 2, Groups: 6}},
	}
}

// runConv runs the three passes with pre-filled accumulators and checks them.
func runConv(t *testing.T, r *refConv, withBias bool, rng *rand.Rand) {
	t.Helper()
	p := r.params
	y := convRandSlice(rng, len(r.y)) // garbage that must be overwritten
	var b []float32
	if withBias {
		b = r.b
	}
	Conv2DForward(p, r.x, r.w, b, y)
	var yBias []float32 // the bias broadcast over rows, as compare's base
	if withBias {
		yBias = make([]float32, len(y))
		for i := range yBias {
			yBias[i] = b[i%p.K]
		}
	}
	convCompare(t, "y", y, yBias, r.y, r.yAbs)

	dx0 := convRandSlice(rng, len(r.x))
	dx := append([]float32(nil), dx0...)
	Conv2DBackwardData(p, r.dy, r.w, dx)
	convCompare(t, "dx", dx, dx0, r.dx, r.dxAbs)

	dw0 := convRandSlice(rng, len(r.w))
	dw := append([]float32(nil), dw0...)
	var db0, db []float32
	if withBias {
		db0 = convRandSlice(rng, p.K)
		db = append([]float32(nil), db0...)
	}
	Conv2DBackwardFilter(p, r.x, r.dy, dw, db)
	convCompare(t, "dw", dw, dw0, r.dw, r.dwAbs)
	if withBias {
		convCompare(t, "dbias", db, db0, r.db, r.dbAbs)
	}
}

func TestConvAgainstReference(t *testing.T) {
	testConvCases(t, []int{1 << 20, 1, -3})
}

// TestConvKernelSets runs the cases with each inner-kernel variant this CPU has,
// the portable Go one included.
func TestConvKernelSets(t *testing.T) {
	forEachVariant(t, FamilyConv, func(t *testing.T) { testConvCases(t, []int{1 << 20, -3}) })
}

// testConvCases checks every case with each chunk size (a negative one means that
// many output rows per chunk).
func testConvCases(t *testing.T, chunks []int) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	for ci, tc := range convCases() {
		if err := tc.p.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rng := rand.New(rand.NewPCG(uint64(ci), 7))
		p := tc.p
		oh, ow := p.OutHW()
		x := convRandSlice(rng, p.N*p.H*p.W*p.C)
		w := convRandSlice(rng, p.K*p.KH*p.KW*p.C/p.Groups)
		b := convRandSlice(rng, p.K)
		dy := convRandSlice(rng, p.N*oh*ow*p.K)
		ref := naiveConv(p, x, w, b, dy)
		colRow := ow * p.KH * p.KW * p.C
		// Default chunking, one output row per chunk, and chunks of three rows
		// that straddle image boundaries.
		for _, chunk := range chunks {
			if chunk < 0 {
				chunk = -chunk * colRow
			}
			for _, withBias := range []bool{true, false} {
				name := fmt.Sprintf("%s/chunk%d/bias=%v", tc.name, chunk, withBias)
				t.Run(name, func(t *testing.T) {
					convChunkFloats = chunk
					runConv(t, ref, withBias, rng)
				})
			}
		}
	}
}

// TestGroupedPathDepthwise checks the im2col path on depthwise parameters against
// the direct depthwise kernels' reference, so both paths agree.
func TestGroupedPathDepthwise(t *testing.T) {
	p := convP(2, 6, 7, 6, 6, 5, 5, 1, 2, 1, 6)
	rng := rand.New(rand.NewPCG(3, 4))
	oh, ow := p.OutHW()
	x := convRandSlice(rng, p.N*p.H*p.W*p.C)
	w := convRandSlice(rng, p.K*p.KH*p.KW)
	b := convRandSlice(rng, p.K)
	dy := convRandSlice(rng, p.N*oh*ow*p.K)
	r := naiveConv(p, x, w, b, dy)
	y := make([]float32, len(dy))
	im2colForward(p, x, w, nil, y)
	convCompare(t, "y", y, nil, r.y, r.yAbs)
	dx := make([]float32, len(x))
	im2colBackwardData(p, dy, w, dx)
	convCompare(t, "dx", dx, nil, r.dx, r.dxAbs)
	dw := make([]float32, len(w))
	im2colBackwardFilter(p, x, dy, dw)
	convCompare(t, "dw", dw, nil, r.dw, r.dwAbs)
}

// TestConvFiniteDifference checks the gradients of L = Σ y·g against central
// differences of the forward pass.
func TestConvFiniteDifference(t *testing.T) {
	for _, tc := range []convCase{
		{"dense 3x3 stride2", convP(1, 5, 6, 3, 4, 3, 3, 2, 1, 1, 1)},
		{"depthwise 5x5", convP(1, 5, 4, 3, 3, 5, 5, 1, 2, 1, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			rng := rand.New(rand.NewPCG(11, 12))
			oh, ow := p.OutHW()
			x := convRandSlice(rng, p.N*p.H*p.W*p.C)
			w := convRandSlice(rng, p.K*p.KH*p.KW*p.C/p.Groups)
			b := convRandSlice(rng, p.K)
			g := convRandSlice(rng, p.N*oh*ow*p.K)
			y := make([]float32, len(g))
			loss := func() float64 {
				Conv2DForward(p, x, w, b, y)
				s := 0.0
				for i := range y {
					s += float64(y[i]) * float64(g[i])
				}
				return s
			}
			dx := make([]float32, len(x))
			dw := make([]float32, len(w))
			db := make([]float32, len(b))
			Conv2DBackwardData(p, g, w, dx)
			Conv2DBackwardFilter(p, x, g, dw, db)
			const eps = 1e-2
			check := func(name string, v, grad []float32) {
				for _, i := range []int{0, len(v) / 3, len(v) / 2, len(v) - 1} {
					old := v[i]
					v[i] = old + eps
					lp := loss()
					v[i] = old - eps
					lm := loss()
					v[i] = old
					fd := (lp - lm) / (2 * eps)
					if math.Abs(fd-float64(grad[i])) > 1e-2*(1+math.Abs(fd)) {
						t.Errorf("d%s[%d] = %g, finite difference %g", name, i, grad[i], fd)
					}
				}
			}
			check("x", x, dx)
			check("w", w, dw)
			check("b", b, db)
		})
	}
}

func TestConvValidate(t *testing.T) {
	good := convP(2, 8, 8, 4, 6, 3, 3, 1, 1, 1, 2)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid params rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ConvParams)
		want string
	}{
		{"zero batch", func(p *ConvParams) { p.N = 0 }, "N = 0"},
		{"zero channels", func(p *ConvParams) { p.C = 0 }, "C = 0"},
		{"zero stride", func(p *ConvParams) { p.StrideW = 0 }, "StrideW = 0"},
		{"zero dilation", func(p *ConvParams) { p.DilH = 0 }, "DilH = 0"},
		{"zero groups", func(p *ConvParams) { p.Groups = 0 }, "Groups = 0"},
		{"negative pad", func(p *ConvParams) { p.PadH = -1 }, "PadH = -1"},
		{"C not multiple of groups", func(p *ConvParams) { p.Groups = 3; p.K = 6 }, "C = 4 is not a multiple of Groups = 3"},
		{"K not multiple of groups", func(p *ConvParams) { p.K = 5 }, "K = 5 is not a multiple of Groups = 2"},
		{"kernel too big", func(p *ConvParams) { p.KH = 11 }, "does not fit"},
		{"dilated kernel too big", func(p *ConvParams) { p.DilW = 5; p.PadW = 0 }, "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			err := p.Validate()
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want error", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestConvOutHW(t *testing.T) {
	for _, tc := range []struct {
		p      ConvParams
		oh, ow int
	}{
		{convP(1, 32, 32, 1, 1, 3, 3, 1, 1, 1, 1), 32, 32},
		{convP(1, 32, 31, 1, 1, 3, 3, 2, 1, 1, 1), 16, 16},
		{convP(1, 7, 8, 1, 1, 1, 1, 2, 0, 1, 1), 4, 4},
		{convP(1, 9, 9, 1, 1, 3, 3, 1, 2, 2, 1), 9, 9},
		{convP(1, 16, 16, 1, 1, 5, 5, 1, 2, 1, 1), 16, 16},
	} {
		oh, ow := tc.p.OutHW()
		if oh != tc.oh || ow != tc.ow {
			t.Errorf("OutHW(%+v) = %d,%d, want %d,%d", tc.p, oh, ow, tc.oh, tc.ow)
		}
	}
}

func TestConvPanicsOnShortSlices(t *testing.T) {
	p := convP(1, 4, 4, 2, 2, 3, 3, 1, 1, 1, 1)
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short output slice")
		}
	}()
	Conv2DForward(p, make([]float32, 32), make([]float32, 36), nil, make([]float32, 31))
}

// TestDepthwiseRowKernel checks the row kernels (where a kernel set has one)
// against a float64 loop, with forward and backward tap steps, and that nothing
// outside the strided output rows is written.
func TestDepthwiseRowKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const guard = 40
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		k := convKernels.get()
		for _, c := range []int{1, 5, 16, 17, 40, 64, 65, 130, 192, 257} {
			for _, kw := range []int{1, 3, 5} {
				for _, back := range []bool{false, true} {
					count, ys, xs := 4, c+3, 2*c+1
					xk := c + 2
					xlen := (count-1)*xs + (kw-1)*xk + c
					x0 := 0
					if back {
						x0, xk = (kw-1)*xk, -xk
					}
					x := convRandSlice(rng, xlen)
					w := convRandSlice(rng, kw*c)
					y := convRandSlice(rng, (count-1)*ys+c+guard)
					want := make([]float64, len(y))
					for i := range y {
						want[i] = float64(y[i])
					}
					for j := 0; j < count; j++ {
						for i := 0; i < c; i++ {
							for q := 0; q < kw; q++ {
								want[j*ys+i] += float64(x[x0+j*xs+q*xk+i]) * float64(w[q*c+i])
							}
						}
					}
					k.row(y[:(count-1)*ys+c], ys, x, x0, xs, w, xk, c, count, kw)
					for i := range y {
						if math.Abs(float64(y[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
							t.Fatalf("%s c=%d kw=%d back=%v: y[%d] = %g, want %g", KernelVariant(FamilyConv), c, kw, back, i, y[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestDepthwiseRowDotKernel checks the filter-gradient row kernels against a
// float64 loop, and that nothing outside the kw tap rows of acc is written.
func TestDepthwiseRowDotKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const guard = 40
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		k := convKernels.get()
		for _, c := range []int{1, 5, 16, 17, 40, 64, 65, 130, 192, 257} {
			for _, kw := range []int{1, 3, 4, 5} {
				for _, count := range []int{1, 2, 7} {
					xs, ys, xk, x0 := 2*c+1, c+3, c+2, 5
					x := convRandSlice(rng, x0+(count-1)*xs+(kw-1)*xk+c)
					dy := convRandSlice(rng, (count-1)*ys+c)
					acc := convRandSlice(rng, kw*c+guard)
					want := make([]float64, len(acc))
					for i := range acc {
						want[i] = float64(acc[i])
					}
					for q := 0; q < kw; q++ {
						for i := 0; i < c; i++ {
							for j := 0; j < count; j++ {
								want[q*c+i] += float64(x[x0+j*xs+q*xk+i]) * float64(dy[j*ys+i])
							}
						}
					}
					k.rowDot(acc[:kw*c], x, x0, xs, dy, ys, xk, c, count, kw)
					for i := range acc {
						if math.Abs(float64(acc[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
							t.Fatalf("%s c=%d kw=%d count=%d: acc[%d] = %g, want %g", KernelVariant(FamilyConv), c, kw, count, i, acc[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestConvAdd checks each vector add against the portable one, and that it writes
// nothing past the end of dst.
func TestConvAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		k := convKernels.get()
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 300} {
			dst := convRandSlice(rng, n+20)
			src := convRandSlice(rng, n+20)
			want := append([]float32(nil), dst...)
			convAddGo(want[:n], src)
			k.add(dst[:n], src)
			for i := range dst {
				if dst[i] != want[i] {
					t.Fatalf("%s n=%d: dst[%d] = %g, want %g", KernelVariant(FamilyConv), n, i, dst[i], want[i])
				}
			}
		}
	})
}

// TestDepthwiseKernels checks each inner-kernel implementation against a float64
// loop, including that nothing outside the strided rows is written.
func TestDepthwiseKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const guard = 40
	forEachVariant(t, FamilyConv, func(t *testing.T) {
		k := convKernels.get()
		for _, c := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 192, 200, 257} {
			for _, count := range []int{1, 2, 5} {
				for _, gap := range []int{0, 3, 17} {
					name := fmt.Sprintf("%s/c%d/count%d/gap%d", KernelVariant(FamilyConv), c, count, gap)
					ds, ss := c+gap, 2*c+gap
					n := (count-1)*ds + c
					dst := convRandSlice(rng, n+guard)
					src := convRandSlice(rng, (count-1)*ss+c)
					w := convRandSlice(rng, c)
					want := make([]float64, len(dst))
					for i := range dst {
						want[i] = float64(dst[i])
					}
					for j := 0; j < count; j++ {
						for i := 0; i < c; i++ {
							want[j*ds+i] += float64(src[j*ss+i]) * float64(w[i])
						}
					}
					k.mulAdd(dst[:n], ds, src, ss, w, count)
					for i := range dst {
						if math.Abs(float64(dst[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
							t.Fatalf("%s mulAdd: dst[%d] = %g, want %g", name, i, dst[i], want[i])
						}
					}

					acc := convRandSlice(rng, c+guard)
					wantAcc := make([]float64, len(acc))
					for i := range acc {
						wantAcc[i] = float64(acc[i])
					}
					for j := 0; j < count; j++ {
						for i := 0; i < c; i++ {
							wantAcc[i] += float64(dst[j*ds+i]) * float64(src[j*ss+i])
						}
					}
					k.dotAdd(acc[:c], dst, ds, src, ss, count)
					for i := range acc {
						if math.Abs(float64(acc[i])-wantAcc[i]) > 1e-5*(1+math.Abs(wantAcc[i])) {
							t.Fatalf("%s dotAdd: acc[%d] = %g, want %g", name, i, acc[i], wantAcc[i])
						}
					}
				}
			}
		}
	})
}

// TestConvScratchReuse checks that once warmed up, repeated convolutions take all
// their scratch buffers from the free list.
func TestConvScratchReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []convCase{
		{"dense", convP(2, 9, 9, 8, 8, 3, 3, 1, 1, 1, 1)},
		{"grouped", convP(2, 9, 9, 8, 8, 3, 3, 2, 1, 1, 4)},
		{"depthwise", convP(2, 9, 9, 32, 32, 5, 5, 1, 2, 1, 32)},
		{"1x1 stride2", convP(2, 9, 9, 8, 8, 1, 1, 2, 0, 1, 1)},
	} {
		p := tc.p
		oh, ow := p.OutHW()
		x := convRandSlice(rng, p.N*p.H*p.W*p.C)
		w := convRandSlice(rng, p.K*p.KH*p.KW*p.C/p.Groups)
		b := convRandSlice(rng, p.K)
		y := make([]float32, p.N*oh*ow*p.K)
		dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, len(b))
		step := func() {
			Conv2DForward(p, x, w, b, y)
			Conv2DBackwardData(p, y, w, dx)
			Conv2DBackwardFilter(p, x, y, dw, db)
		}
		step()
		convScratch.mu.Lock()
		before := convScratch.allocs
		convScratch.mu.Unlock()
		for i := 0; i < 5; i++ {
			step()
		}
		convScratch.mu.Lock()
		after := convScratch.allocs
		convScratch.mu.Unlock()
		if after != before {
			t.Errorf("%s: %d scratch buffers made in steady state, want 0", tc.name, after-before)
		}
	}
}

// TestConvBackwardDataSet checks that Conv2DBackwardDataSet over garbage gives bit for
// bit what Conv2DBackwardData gives accumulating into zeros, for every case (the
// pointwise ones take the overwriting product, the others clear first), including a
// large pointwise one whose product splits across workers.
func TestConvBackwardDataSet(t *testing.T) {
	cases := append(convCases(),
		convCase{"large 1x1", convP(4, 16, 16, 96, 80, 1, 1, 1, 0, 1, 1)},
		convCase{"grouped 1x1", convP(2, 5, 4, 8, 6, 1, 1, 1, 0, 1, 2)})
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 11))
			p := tc.p
			oh, ow := p.OutHW()
			w := convRandSlice(rng, p.K*p.KH*p.KW*p.C/p.Groups)
			dy := convRandSlice(rng, p.N*oh*ow*p.K)
			want := make([]float32, p.N*p.H*p.W*p.C)
			Conv2DBackwardData(p, dy, w, want)
			got := convRandSlice(rng, len(want))
			Conv2DBackwardDataSet(p, dy, w, got)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dx[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestConv2DForwardSwish: the fused forward gives the bits of Conv2DForward followed by
// SwishSlice, for 1×1 convolutions (edge tiles, depths beyond one block, more columns
// than one packed block, products split across workers by rows and by columns),
// depthwise, grouped and dense ones, with and without bias, on every GEMM variant.
func TestConv2DForwardSwish(t *testing.T) {
	cases := []ConvParams{
		{N: 2, H: 5, W: 7, C: 24, K: 40, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 1, H: 3, W: 9, C: 300, K: 33, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 1, H: 8, W: 8, C: 64, K: 2100, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 4, H: 32, W: 32, C: 64, K: 96, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{N: 2, H: 6, W: 5, C: 48, K: 48, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2, DilH: 1, DilW: 1, Groups: 48},
		{N: 2, H: 6, W: 5, C: 16, K: 24, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 4},
		{N: 2, H: 6, W: 5, C: 8, K: 12, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	forEachVariant(t, FamilyGemm, func(t *testing.T) {
		for _, p := range cases {
			oh, ow := p.OutHW()
			x := convRandSlice(rng, p.N*p.H*p.W*p.C)
			w := convRandSlice(rng, p.K*p.KH*p.KW*(p.C/p.Groups))
			for i := range x {
				x[i] *= 3 // inputs of Swish on both sides of 0, some far
			}
			for _, withBias := range []bool{true, false} {
				var b []float32
				if withBias {
					b = convRandSlice(rng, p.K)
				}
				want := make([]float32, p.N*oh*ow*p.K)
				Conv2DForward(p, x, w, b, want)
				SwishSlice(want, want)
				got := convRandSlice(rng, len(want)) // garbage that must be overwritten
				Conv2DForwardSwish(p, x, w, b, got)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%+v, bias %v: y[%d] = %g, unfused %g", p, withBias, i, got[i], want[i])
					}
				}
			}
		}
	})
}
