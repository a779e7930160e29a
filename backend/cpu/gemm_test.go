package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// refGemm is a naive float64 C = alpha·op(A)·op(B) + beta·C.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			s *= float64(alpha)
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = s
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func maxAbs(s []float32) float64 {
	var m float64
	for _, x := range s {
		if x == x { // skip NaN
			m = max(m, math.Abs(float64(x)))
		}
	}
	return m
}

type gemmCase struct{ m, n, k int }

func gemmCases() []gemmCase {
	var cs []gemmCase
	for _, s := range []int{1, 7, 33, 257} {
		cs = append(cs, gemmCase{s, s, s})
	}
	return append(cs,
		gemmCase{1, 1000, 3},
		gemmCase{513, 17, 1025},
		gemmCase{1000, 1, 5},
		gemmCase{15, 33, 600},   // several k blocks, edge tiles in m and n
		gemmCase{29, 65, 1},     // k = 1
		gemmCase{40, 70, 2100},  // deep: split-k path
		gemmCase{300, 2100, 20}, // several column blocks
		gemmCase{3, 5, 700},     // serial, several slabs of k
	)
}

func TestSgemmVariants(t *testing.T) {
	checkVariants(t, gemmCases())
}

// TestSgemmConcurrent runs products from several goroutines at once (each also
// using the worker pool).
func TestSgemmConcurrent(t *testing.T) {
	const m, n, k = 140, 90, 400
	r := rand.New(rand.NewPCG(5, 6))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := refGemm(false, false, m, n, k, 1, a, k, b, n, 0, nil, n)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			c := make([]float32, m*n)
			for range 5 {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i, x := range c {
					if d := math.Abs(float64(x) - want[i]); d > 1e-3 {
						errs <- fmt.Errorf("C[%d] = %v, want %v", i, x, want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func checkVariants(t *testing.T, cases []gemmCase) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	forEachVariant(t, FamilyGemm, func(t *testing.T) {
		// Every tile shape of the variant, each forced on all the cases.
		for tile := range 1 + len(gemmKernels.get().alts) {
			forceTile = tile
			checkCases(t, r, fmt.Sprintf("tile%d", tile), cases)
		}
		forceTile = -1
	})
}

// checkCases compares Sgemm with refGemm on the cases, in all four transpositions,
// with alpha = 1.5, beta in {0, 1, 0.5}, NaN in C where beta = 0, and padded
// leading dimensions on every other case (the padding of C must stay untouched).
func checkCases(t *testing.T, r *rand.Rand, name string, cases []gemmCase) {
	t.Helper()
	for _, tc := range cases {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, 0.5} {
				transA, transB := tr[0], tr[1]
				// Non-tight leading dimensions on every other case.
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
				a := randSlice(r, ar*lda)
				b := randSlice(r, br*ldb)
				c := randSlice(r, tc.m*ldc)
				if beta == 0 {
					for i := range c {
						if i%3 == 0 {
							c[i] = float32(math.NaN())
						}
					}
				}
				alpha := float32(1.5)
				want := refGemm(transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, c, ldc)
				got := append([]float32(nil), c...)
				Sgemm(transA, transB, tc.m, tc.n, tc.k, alpha, a, lda, b, ldb, beta, got, ldc)
				tol := 1e-6 * float64(tc.k+1) * (maxAbs(a)*maxAbs(b)*1.5 + maxAbs(c))
				for i := range tc.m {
					for j := range ldc {
						g := got[i*ldc+j]
						if j >= tc.n { // padding must stay untouched
							if math.Float32bits(g) != math.Float32bits(c[i*ldc+j]) {
								t.Fatalf("%s %v %+v beta=%v: padding C[%d,%d] changed", name, tr, tc, beta, i, j)
							}
							continue
						}
						if d := math.Abs(float64(g) - want[i*tc.n+j]); !(d <= tol) {
							t.Fatalf("%s trans=%v %+v beta=%v: C[%d,%d] = %v, want %v (tol %g)",
								name, tr, tc, beta, i, j, g, want[i*tc.n+j], tol)
						}
					}
				}
			}
		}
	}
}

func TestSgemmDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	c := []float32{nan, 2, nan, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for i, x := range c {
		if x != 0 {
			t.Fatalf("k=0 beta=0: c[%d] = %v, want 0", i, x)
		}
	}
	c = []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	for i, x := range c {
		if x != float32(i+1)*0.5 {
			t.Fatalf("k=0 beta=0.5: c[%d] = %v", i, x)
		}
	}
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, nil, 5, 0, nil, 5) // m = 0: no-op
}

func benchSgemm(b *testing.B, transA, transB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(3, 4))
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	a, bm, c := randSlice(r, ar*ac), randSlice(r, br*bc), make([]float32, m*n)
	flops := 2 * float64(m) * float64(n) * float64(k)
	var best time.Duration
	for b.Loop() {
		t0 := time.Now()
		Sgemm(transA, transB, m, n, k, 1, a, ac, bm, bc, 0, c, n)
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// The fastest single call: a steadier figure when other processes share the CPU.
	b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
}

func BenchmarkSgemm1024(b *testing.B) {
	benchVariants(b, FamilyGemm, func(b *testing.B) {
		if KernelVariant(FamilyGemm) == "go" && len(KernelVariants(FamilyGemm)) > 1 {
			b.Skip("far slower than the assembly kernels")
		}
		benchSgemm(b, false, false, 1024, 1024, 1024)
	})
}

// BenchmarkSgemmConv covers the skinny shapes of a 3×3 convolution with 64 channels
// on 32768 output pixels (NHWC, weights OHWI): the forward pass (im2col patches ×
// Wᵀ), the input gradient (dY × W) and the weight gradient (dYᵀ × patches, huge k).
func BenchmarkSgemmConv(b *testing.B) {
	for _, s := range []struct {
		transA, transB bool
		m, n, k        int
	}{
		{false, true, 32768, 64, 576},
		{false, false, 32768, 576, 64},
		{true, false, 64, 576, 32768},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d_t%v%v", s.m, s.n, s.k, s.transA, s.transB), func(b *testing.B) {
			benchSgemm(b, s.transA, s.transB, s.m, s.n, s.k)
		})
	}
}

// TestPfRegionTake checks that the prefetch chunks handed out cover a region's
// lines exactly once, whatever the budget.
func TestPfRegionTake(t *testing.T) {
	for _, tc := range []struct{ rows, cols, ld, budget int }{
		{5, 40, 50, 7}, {5, 40, 50, 3}, {14, 200, 256, 128}, {3, 16, 16, 1}, {256, 576, 576, 192},
	} {
		base := make([]float32, (tc.rows-1)*tc.ld+tc.cols)
		r := pfRegion{base: base, lines: (tc.cols + 15) / 16, ld: tc.ld, rows: tc.rows}
		seen := map[int]int{}
		for {
			c := r.take(tc.budget)
			if c.rows == 0 {
				break
			}
			if c.rows*c.lines > tc.budget && c.rows > 1 {
				t.Fatalf("%+v: chunk of %d×%d lines over budget", tc, c.rows, c.lines)
			}
			// Offset of the chunk start within base.
			off := -1
			for i := range base {
				if &base[i] == c.p {
					off = i
					break
				}
			}
			for row := range c.rows {
				for l := range c.lines {
					seen[off+row*c.ld+l*16]++
				}
			}
		}
		for row := range tc.rows {
			for l := range (tc.cols + 15) / 16 {
				if n := seen[row*tc.ld+l*16]; n != 1 {
					t.Fatalf("%+v: line %d of row %d fetched %d times", tc, l, row, n)
				}
			}
		}
		if want := tc.rows * ((tc.cols + 15) / 16); len(seen) != want {
			t.Fatalf("%+v: %d lines fetched, want %d", tc, len(seen), want)
		}
	}
}

// TestPackRows checks each B-packing copy against a plain copy, for the panel
// widths of the microkernels and others, and that nothing between the packed
// pieces is written.
func TestPackRows(t *testing.T) {
	forEachVariant(t, FamilyPack, func(t *testing.T) {
		pack := packKernels.get()
		r := rand.New(rand.NewPCG(7, 8))
		for _, width := range []int{4, 6, 8, 14, 16, 17, 32, 48} {
			for _, n := range []int{0, 1, 3, 8} {
				stride := width + 5
				src := randSlice(r, n*width)
				dst := make([]float32, n*stride+1)
				for i := range dst {
					dst[i] = -1
				}
				pack(dst, stride, src, n, width)
				for i, x := range dst {
					want := float32(-1)
					if row, col := i/stride, i%stride; row < n && col < width {
						want = src[row*width+col]
					}
					if x != want {
						t.Fatalf("width %d n %d: dst[%d] = %v, want %v", width, n, i, x, want)
					}
				}
			}
		}
	})
}

// BenchmarkSgemmIR covers the 1×1 convolutions of the mnist preset's decoder cells
// (inverted residuals, expansion 6) at an evaluation batch of 2560 pixels rows: the
// expansion (C → 6C) and the projection (6C → C), NHWC activations × OHWI weightsᵀ.
func BenchmarkSgemmIR(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{
		{2560, 1536, 256}, {2560, 256, 1536},
		{10240, 768, 128}, {10240, 128, 768},
		{40960, 384, 64}, {40960, 64, 384},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			benchSgemm(b, false, true, s.m, s.n, s.k)
		})
	}
}

// TestSgemmEpilogue checks the GEMM epilogues bit for bit against the plain product
// followed by a separate pass (bias added to each row, then Swish), for every
// variant and tile shape: row panels whose full tiles add the bias in the
// microkernel (one or several tiles, with an edge tile or none), several depth
// blocks, a bias offset (the groups of a convolution), padded C rows, prepacked B,
// and the worker pool's bands.
func TestSgemmEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cases := []gemmCase{{6, 16, 16}, {37, 96, 16}, {40, 16, 96}, {13, 40, 9}, {50, 33, 700}, {2, 5, 3}, {300, 112, 64}}
	forEachVariant(t, FamilyGemm, func(t *testing.T) {
		for tile := range 1 + len(gemmKernels.get().alts) {
			forceTile = tile
			for _, tc := range cases {
				for _, swish := range []bool{false, true} {
					for _, off := range []int{0, 3} {
						name := fmt.Sprintf("tile%d/%+v/swish=%v/off=%d", tile, tc, swish, off)
						ldc := tc.n + off%2
						a := randSlice(r, tc.m*tc.k)
						b := randSlice(r, tc.n*tc.k)
						bias := randSlice(r, off+tc.n)
						want := randSlice(r, tc.m*ldc)
						Sgemm(false, true, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.k, 0, want, ldc)
						for i := range tc.m {
							convAddTo(want[i*ldc:i*ldc+tc.n], bias[off:off+tc.n])
							if swish {
								SwishSlice(want[i*ldc:i*ldc+tc.n], want[i*ldc:i*ldc+tc.n])
							}
						}
						epi := biasEpilogue(bias, off)
						epi.swish = swish
						for _, prepacked := range []bool{false, true} {
							got := randSlice(r, tc.m*ldc)
							pad := append([]float32(nil), got...)
							if prepacked {
								pb := prepackB(true, tc.m, tc.n, tc.k, b, tc.k)
								sgemmPrepacked(tc.m, a, tc.k, pb, got, ldc, epi)
								pb.release()
							} else {
								sgemm(false, true, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.k, 0, got, ldc, epi)
							}
							for i := range tc.m {
								for j := range ldc {
									g, w := got[i*ldc+j], want[i*ldc+j]
									if j >= tc.n {
										w = pad[i*ldc+j]
									}
									if math.Float32bits(g) != math.Float32bits(w) {
										t.Fatalf("%s prepacked=%v: C[%d][%d] = %g, separate passes %g", name, prepacked, i, j, g, w)
									}
								}
							}
						}
					}
				}
			}
		}
		forceTile = -1
	})
}
