package cpu

import (
	"fmt"
	"unsafe"
)

// bf16KC is the depth of the blocks into which SgemmBF16 splits k. It is fixed (not
// derived from the caches) because it is part of the reduction order: every variant,
// on every machine, rounds the same sums.
const bf16KC = 256

// bf16Variant is one bf16 GEMM implementation: a microkernel for mr×nr tiles.
type bf16Variant struct {
	mr, nr int
	// kernel sets the mr×nr tile at c (row stride ldc) from a packed A micro-panel
	// (mr rows of kc float32 values widened from bf16, lda apart) and a packed B
	// micro-panel (kc groups of nr bf16 values): with s the tile's sum over the kc
	// products (see SgemmBF16 for its order), c = fma(beta, c, alpha·s), where
	// alpha·s is rounded first and beta == ±0 stores alpha·s without reading c.
	kernel func(kc int, a []float32, lda int, b []uint16, c []float32, ldc int, alpha, beta float32)
	// direct, if not nil, is kernel reading mr rows of a non-transposed bf16 A in
	// place (lda elements apart) instead of a widened micro-panel.
	direct func(kc int, a []uint16, lda int, b []uint16, c []float32, ldc int, alpha, beta float32)
}

// bf16Kernels is the bf16 GEMM family. Every variant computes each element of C
// with the same sequence of roundings, so the variants agree bit for bit.
var bf16Kernels = newFamily(FamilyGemmBF16, &bf16Variant{mr: 4, nr: 8, kernel: bf16KernelGo})

// bf16PairsGo runs bf16KernelPairsGo, the VDPBF16PS emulation (SgemmBF16Pairs).
var bf16PairsGo = &bf16Variant{mr: 4, nr: 8, kernel: bf16KernelPairsGo}

// bf16KernelGo is the portable 4×8 microkernel: for each element, s = +0, then for
// p = 0, 1, …, kc-1 in order s = fma(a[p], b[p], s) rounded once (fmaBF16).
func bf16KernelGo(kc int, a []float32, lda int, b []uint16, c []float32, ldc int, alpha, beta float32) {
	var acc [4][8]float32
	b = b[:8*kc]
	a0, a1, a2, a3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	for p := range kc {
		bp := b[8*p : 8*p+8]
		ap := [4]float32{a0[p], a1[p], a2[p], a3[p]}
		for r, av := range ap {
			for j, bv := range bp {
				acc[r][j] = fmaBF16(av, F32FromBF16(bv), acc[r][j])
			}
		}
	}
	storeTile(acc[:], c, ldc, alpha, beta)
}

// bf16KernelPairsGo is bf16KernelGo with VDPBF16PS's order and flushing: k is taken
// in pairs (2q, 2q+1), an odd kc padded with a zero pair, and for each pair
// s = step(step(s, a[2q+1]·b[2q+1]), a[2q]·b[2q]) where step rounds s + product to
// nearest even with denormal inputs read as zero and a denormal result flushed
// (DPBF16PSLane). The epilogue (alpha, beta) is ordinary float32 arithmetic.
func bf16KernelPairsGo(kc int, a []float32, lda int, b []uint16, c []float32, ldc int, alpha, beta float32) {
	var acc [4][8]float32
	a, b = a[:3*lda+kc], b[:8*kc]
	for p := 0; p < kc; p += 2 {
		for r := range 4 {
			for j := range 8 {
				s := acc[r][j]
				if p+1 < kc {
					s = dpbf16Step(s, a[r*lda+p+1], F32FromBF16(b[8*(p+1)+j]))
				} else {
					s = dpbf16Step(s, 0, 0)
				}
				acc[r][j] = dpbf16Step(s, a[r*lda+p], F32FromBF16(b[8*p+j]))
			}
		}
	}
	storeTile(acc[:], c, ldc, alpha, beta)
}

// storeTile is the microkernel epilogue: c = fma(beta, c, alpha·acc) per element,
// alpha·acc rounded first; beta == ±0 stores alpha·acc without reading c.
func storeTile(acc [][8]float32, c []float32, ldc int, alpha, beta float32) {
	for r := range acc {
		cr := c[r*ldc : r*ldc+8]
		for j, s := range acc[r] {
			t := float32(alpha * s)
			if beta == 0 {
				cr[j] = t
			} else {
				cr[j] = fma32(beta, cr[j], t)
			}
		}
	}
}

// SgemmBF16 computes C = alpha·op(A)·op(B) + beta·C for row-major matrices whose A
// and B hold bf16 values (see BF16FromF32), accumulating in float32. op(X) is X or
// its transpose; op(A) is m×k, op(B) is k×n and C is m×n float32; lda, ldb and ldc are
// the row strides as stored. With beta == 0, C is overwritten (even NaN is ignored).
//
// Each element of C is computed in this order, the same for every variant of the
// "gemm_bf16" family and every machine, so the variants agree bit for bit:
//
//   - the depth is split into blocks of 256 (the last one shorter);
//   - in each block, s starts at +0 and takes s = fma(a_p, b_p, s) for p in increasing
//     order, each step rounded once to nearest even (bf16·bf16 products are exact
//     in float32, so this is also s + a_p·b_p rounded, unless the product falls
//     out of float32's range), with denormals kept (no DAZ, no FTZ);
//   - then t = alpha·s is rounded, and the element becomes t (first block with
//     beta == 0), fma(beta, C, t) (first block) or C + t (later blocks).
//
// The element is not otherwise reassociated: work is split among workers only by
// bands of C. NaN payloads are not specified. The error against the exact product
// is that of float32 summation of k exact terms (the inputs are exact bf16 values):
// |error| ≤ about k·2⁻²⁴·Σ|a_p·b_p|, plus the rounding of the epilogue.
//
// Future AVX512_BF16 kernels (VDPBF16PS) reduce in pairs with their own rounding
// and flushing; they will be a variant family of their own order, tested bit for
// bit against SgemmBF16Pairs.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) error {
	return sgemmBF16(bf16Kernels.get(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBF16Pairs is SgemmBF16 in the reduction order of VDPBF16PS (the AVX512_BF16
// bf16 dot-product instruction), emulated portably and exactly: within each block
// of 256, k is taken in pairs (2q, 2q+1), an odd block padded with a zero pair; for
// each pair, s = step(step(s, a_{2q+1}·b_{2q+1}), a_{2q}·b_{2q}), where a step is
// acc + product rounded to nearest even with denormal inputs read as zero and a
// denormal result flushed to zero (DAZ and FTZ, which VDPBF16PS applies whatever
// MXCSR says; it raises no exceptions). This is the order of Intel's pseudo-code
// for VDPBF16PS (srcdest += odd product, then += even product). The epilogue
// (alpha, beta, the blocks) is SgemmBF16's. A kernel using VDPBF16PS packs A and B
// in the instruction's pair layout (each dword of B holds rows 2q and 2q+1 of one
// column; each broadcast dword of A the same two depths of one row) and must
// reproduce this function bit for bit. It is slow: a reference, not a fast path.
func SgemmBF16Pairs(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) error {
	return sgemmBF16(bf16PairsGo, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkBF16Matrix reports whether x holds a rows×cols matrix with row stride ld.
func checkBF16Matrix[T uint16 | float32](name string, x []T, rows, cols, ld int) error {
	if ld < max(cols, 1) {
		return fmt.Errorf("leading dimension of %s is %d, want ≥ %d", name, ld, cols)
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		return fmt.Errorf("%s has %d elements, want ≥ %d for %d×%d with stride %d",
			name, len(x), (rows-1)*ld+cols, rows, cols, ld)
	}
	return nil
}

func sgemmBF16(v *bf16Variant, transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("cpu.SgemmBF16: negative size m=%d n=%d k=%d", m, n, k)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if err := checkBF16Matrix("C", c, m, n, ldc); err != nil {
		return fmt.Errorf("cpu.SgemmBF16: %w", err)
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return nil
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkBF16Matrix("A", a, ar, ac, lda); err != nil {
		return fmt.Errorf("cpu.SgemmBF16: %w", err)
	}
	if err := checkBF16Matrix("B", b, br, bc, ldb); err != nil {
		return fmt.Errorf("cpu.SgemmBF16: %w", err)
	}
	g := bf16Gemm{v: v, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	w := loopWorkers()
	if w == 1 || float64(m)*float64(n)*float64(k) < parallelMinMACs {
		g.run()
		return nil
	}
	// Bands of whole tiles of C, one per worker: no element's sum is split.
	mPanels, nPanels := (m+v.mr-1)/v.mr, (n+v.nr-1)/v.nr
	byCols := balance(nPanels, w) > balance(mPanels, w) || (balance(nPanels, w) == balance(mPanels, w) && n >= m)
	Parallel(w, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			s := g
			if byCols {
				j0, j1 := t*nPanels/w*v.nr, min(n, (t+1)*nPanels/w*v.nr)
				if j0 >= j1 {
					continue
				}
				s.n, s.c = j1-j0, c[j0:]
				if transB {
					s.b = b[j0*ldb:]
				} else {
					s.b = b[j0:]
				}
			} else {
				i0, i1 := t*mPanels/w*v.mr, min(m, (t+1)*mPanels/w*v.mr)
				if i0 >= i1 {
					continue
				}
				s.m, s.c = i1-i0, c[i0*ldc:]
				if transA {
					s.a = a[i0:]
				} else {
					s.a = a[i0*lda:]
				}
			}
			s.run()
		}
	})
	return nil
}

// bf16Gemm is one bf16 product (or band of one) in flight.
type bf16Gemm struct {
	v              *bf16Variant
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []uint16
	lda            int
	b              []uint16
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

// bf16NC is the width of a packed B block: kc×nc bf16 values take at most half of
// L2 (they are streamed from there past the A micro-panel held in L1).
func bf16NC(nr int) int {
	return min(4096, max(4*nr, caches.L2/2/(2*bf16KC)/nr*nr))
}

// bf16DirectMaxN is the widest C (or band of C) for which A is read in place.
const bf16DirectMaxN = 144

// bf16MCFloats bounds a packed block of A (mc×kc widened values, 1 MiB).
const bf16MCFloats = 1 << 18

// run computes the product serially. Loop nest: depth blocks of kc; blocks of mc rows
// of A, packed (widened to float32) once unless read in place; blocks of nc columns of B, packed (bf16);
// then every tile, row panel by row panel: the A micro-panel stays in L1 while the
// B micro-panels stream from L2.
func (g *bf16Gemm) run() {
	v := g.v
	mr, nr := v.mr, v.nr
	nc := bf16NC(nr)
	kc0 := min(bf16KC, g.k)
	mcPanels := max(1, bf16MCFloats/(mr*kc0))
	mcPanels = min(mcPanels, (g.m+mr-1)/mr)
	abuf := getBuf(mcPanels*mr*kc0 + mr*nr)
	defer putConvScratch(abuf)
	tile := (*abuf)[len(*abuf)-mr*nr:]
	nb := min(nc, (g.n+nr-1)/nr*nr)
	bbuf := getBuf((kc0*nb + 1) / 2)
	defer putConvScratch(bbuf)
	bpk := unsafe.Slice((*uint16)(unsafe.Pointer(&(*bbuf)[0])), 2*len(*bbuf))
	// Full panels of a non-transposed A are read in place when the variant can and
	// C is narrow: widening A into a panel costs a pass over A, repaid only over
	// enough columns; reading bf16 in place costs an extra operation per A value in
	// the kernel. (Measured on a loaded AMD Zen 3, avx2, in CPU time: in place
	// 5-25% faster at n = 64 and about 17% slower at n = 1024; a linear model of
	// the two costs crosses near n = 145.)
	direct := v.direct != nil && !g.transA && g.n <= bf16DirectMaxN
	for pc := 0; pc < g.k; pc += bf16KC {
		kc := min(bf16KC, g.k-pc)
		beta := g.beta
		if pc > 0 {
			beta = 1
		}
		for ic := 0; ic < g.m; ic += mcPanels * mr {
			mc := min(mcPanels*mr, g.m-ic)
			panels := (mc + mr - 1) / mr
			ap := (*abuf)[:panels*mr*kc]
			for ip := range panels {
				if rows := min(mr, mc-ip*mr); !direct || rows < mr {
					g.packA(ap[ip*mr*kc:(ip+1)*mr*kc], pc, kc, ic+ip*mr, rows)
				}
			}
			for jc := 0; jc < g.n; jc += nc {
				w := min(nc, g.n-jc)
				jPanels := (w + nr - 1) / nr
				bp := bpk[:jPanels*nr*kc]
				for jp := range jPanels {
					g.packB(bp[jp*nr*kc:(jp+1)*nr*kc], pc, kc, jc+jp*nr, min(nr, w-jp*nr))
				}
				for ip := range panels {
					i := ic + ip*mr
					mh := min(mr, g.m-i)
					a := ap[ip*mr*kc : (ip+1)*mr*kc]
					for jp := range jPanels {
						j := jc + jp*nr
						nw := min(nr, g.n-j)
						b := bp[jp*nr*kc : (jp+1)*nr*kc]
						inPlace := direct && mh == mr
						if mh == mr && nw == nr {
							if inPlace {
								v.direct(kc, g.a[i*g.lda+pc:], g.lda, b, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta)
							} else {
								v.kernel(kc, a, kc, b, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta)
							}
							continue
						}
						// Edge tile: through the scratch tile, merged with the same
						// rounding as the kernel's epilogue.
						if inPlace {
							v.direct(kc, g.a[i*g.lda+pc:], g.lda, b, tile, nr, g.alpha, 0)
						} else {
							v.kernel(kc, a, kc, b, tile, nr, g.alpha, 0)
						}
						for r := range mh {
							crow := g.c[(i+r)*g.ldc+j : (i+r)*g.ldc+j+nw]
							trow := tile[r*nr : r*nr+nw]
							if beta == 0 {
								copy(crow, trow)
								continue
							}
							for q, t := range trow {
								crow[q] = fma32(beta, crow[q], t)
							}
						}
					}
				}
			}
		}
	}
}

// packA stores op(A)[i:i+rows, pc:pc+kc] widened to float32 into dst as mr rows of
// kc values, padding rows beyond the matrix with zeros. A row of a non-transposed
// A is one contiguous widening (vectorised).
func (g *bf16Gemm) packA(dst []float32, pc, kc, i, rows int) {
	mr := g.v.mr
	dst = dst[:mr*kc]
	if rows < mr {
		clear(dst[rows*kc:])
	}
	if g.transA {
		for p := range kc {
			src := g.a[(pc+p)*g.lda+i : (pc+p)*g.lda+i+rows]
			for r, h := range src {
				dst[r*kc+p] = F32FromBF16(h)
			}
		}
		return
	}
	for r := range rows {
		F32FromBF16Slice(dst[r*kc:(r+1)*kc], g.a[(i+r)*g.lda+pc:(i+r)*g.lda+pc+kc])
	}
}

// packB stores op(B)[pc:pc+kc, j:j+cols] into dst as kc groups of nr bf16 values,
// padding columns beyond the matrix with zeros.
func (g *bf16Gemm) packB(dst []uint16, pc, kc, j, cols int) {
	nr := g.v.nr
	dst = dst[:nr*kc]
	if cols < nr {
		clear(dst)
	}
	if !g.transB {
		for p := range kc {
			copy(dst[p*nr:p*nr+cols], g.b[(pc+p)*g.ldb+j:(pc+p)*g.ldb+j+cols])
		}
		return
	}
	for q := range cols {
		src := g.b[(j+q)*g.ldb+pc : (j+q)*g.ldb+pc+kc]
		for p, h := range src {
			dst[p*nr+q] = h
		}
	}
}
