package cpu

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// gemmVariant is one SGEMM implementation: a microkernel for MR×NR tiles of C and the
// cache blocking that suits it.
type gemmVariant struct {
	name   string
	mr, nr int
	// kcMax bounds the depth of a packed block (the B micro-panel, kc×nr, should stay
	// in L1), mcMax the rows of a packed A block (kept in L2) and ncMax the columns
	// of a packed B block. mcMax is a multiple of mr and ncMax of nr.
	kcMax, mcMax, ncMax int
	// kernel sets the mr×nr tile at c (row stride ldc) to alpha·a·b + beta·c, where a
	// is a packed A micro-panel (kc groups of mr values), b a packed B micro-panel (kc
	// groups of nr values); beta == 0 does not read c.
	kernel func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
}

// variantRank orders the variants from the most to the least preferred.
var variantRank = map[string]int{"avx512": 0, "avx2": 1, "go": 2}

var (
	gemmVariants []*gemmVariant // supported here, most preferred first
	gemmCurrent  atomic.Pointer[gemmVariant]
)

// registerVariant records a variant the machine supports (called from init).
func registerVariant(v *gemmVariant) {
	gemmVariants = append(gemmVariants, v)
	slices.SortStableFunc(gemmVariants, func(x, y *gemmVariant) int {
		return variantRank[x.name] - variantRank[y.name]
	})
	gemmCurrent.Store(gemmVariants[0])
}

// GemmVariants lists the SGEMM implementations this machine supports, the default
// (fastest) first: a subset of "avx512", "avx2" and "go".
func GemmVariants() []string {
	names := make([]string, len(gemmVariants))
	for i, v := range gemmVariants {
		names[i] = v.name
	}
	return names
}

// GemmVariant reports the name of the SGEMM implementation in use.
func GemmVariant() string { return gemmCurrent.Load().name }

// SetGemmVariant makes Sgemm use the named implementation (one of GemmVariants) and
// returns a function that restores the previous one. It is meant for tests and
// benchmarks; calls of Sgemm running concurrently may use either implementation.
func SetGemmVariant(name string) (restore func(), err error) {
	for _, v := range gemmVariants {
		if v.name == name {
			old := gemmCurrent.Swap(v)
			return func() { gemmCurrent.Store(old) }, nil
		}
	}
	return nil, fmt.Errorf("set gemm variant %q: not supported here (have %v)", name, GemmVariants())
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where op(X) is X
// or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the
// row strides of A, B and C as stored. With beta == 0, C is overwritten (its old
// contents, even NaN, are ignored).
//
// The product is cache-blocked: op(B) is packed into panels of NR columns and op(A)
// into panels of MR rows, and an assembly microkernel (AVX-512 or AVX2 on amd64, Go
// elsewhere) multiplies them, in parallel on the worker pool. Slices too short for
// the given sizes and strides make it panic.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("cpu.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	checkMatrix("C", c, m, n, ldc)
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if transA {
		checkMatrix("A", a, k, m, lda)
	} else {
		checkMatrix("A", a, m, k, lda)
	}
	if transB {
		checkMatrix("B", b, n, k, ldb)
	} else {
		checkMatrix("B", b, k, n, ldb)
	}
	g := gemm{v: gemmCurrent.Load(), transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	w := Workers()
	if w == 1 || float64(m)*float64(n)*float64(k) < 1<<17 {
		g.run(false)
		return
	}
	// Deep products with a small C (weight gradients of convolutions) split k: each
	// worker computes a partial C over its range of k, and the partial sums are added.
	if k >= 2*w*g.v.kcMax && k >= 4*max(m, n) {
		g.runSplitK(w)
		return
	}
	g.run(true)
}

// checkMatrix panics unless x holds a rows×cols matrix with row stride ld.
func checkMatrix(name string, x []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("cpu.Sgemm: leading dimension of %s is %d, want ≥ %d", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("cpu.Sgemm: %s has %d elements, want ≥ %d for %d×%d with stride %d",
			name, len(x), (rows-1)*ld+cols, rows, cols, ld))
	}
}

// scaleC sets C = beta·C, where beta == 0 clears C.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemm is one product in flight.
type gemm struct {
	v              *gemmVariant
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

// bufPool recycles packing buffers.
var bufPool sync.Pool

func getBuf(n int) *[]float32 {
	if p, ok := bufPool.Get().(*[]float32); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	}
	s := make([]float32, n, n+n/4)
	return &s
}

// runSplitK splits the depth k into w ranges computed concurrently: the first range
// goes straight into C (with beta), the others into zeroed scratch matrices that are
// then added to C.
func (g *gemm) runSplitK(w int) {
	kc := g.v.kcMax
	// Ranges are whole multiples of kc (except the last), so no block is short.
	blocks := (g.k + kc - 1) / kc
	per := (blocks + w - 1) / w
	parts := (blocks + per - 1) / per
	mn := g.m * g.n
	scratch := getBuf((parts - 1) * mn)
	defer bufPool.Put(scratch)
	Parallel(parts, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			k0 := t * per * kc
			k1 := min(g.k, k0+per*kc)
			s := *g
			s.k = k1 - k0
			if g.transA {
				s.a = g.a[k0*g.lda:]
			} else {
				s.a = g.a[k0:]
			}
			if g.transB {
				s.b = g.b[k0:]
			} else {
				s.b = g.b[k0*g.ldb:]
			}
			if t > 0 {
				s.beta = 0
				s.c = (*scratch)[(t-1)*mn : t*mn]
				s.ldc = g.n
			}
			s.run(false)
		}
	})
	sc := *scratch
	Parallel(g.m, max(1, 4096/g.n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := g.c[i*g.ldc : i*g.ldc+g.n]
			for t := 1; t < parts; t++ {
				part := sc[(t-1)*mn+i*g.n : (t-1)*mn+(i+1)*g.n]
				for j, x := range part {
					row[j] += x
				}
			}
		}
	})
}

// run computes the product, on the worker pool when par is set.
func (g *gemm) run(par bool) {
	v := g.v
	mr, nr := v.mr, v.nr
	// Equal-sized k blocks no deeper than kcMax.
	kBlocks := (g.k + v.kcMax - 1) / v.kcMax
	kc0 := (g.k + kBlocks - 1) / kBlocks
	ncMax := v.ncMax
	bbuf := getBuf(kc0 * ncMax)
	defer bufPool.Put(bbuf)
	w := 1
	if par {
		w = Workers()
	}
	for jc := 0; jc < g.n; jc += ncMax {
		nc := min(ncMax, g.n-jc)
		nPanels := (nc + nr - 1) / nr
		for pc := 0; pc < g.k; pc += kc0 {
			kc := min(kc0, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			bp := (*bbuf)[:nPanels*nr*kc]
			packB := func(lo, hi int) {
				for jp := lo; jp < hi; jp++ {
					g.packB(bp[jp*nr*kc:(jp+1)*nr*kc], pc, kc, jc+jp*nr, min(nr, jc+nc-jc-jp*nr))
				}
			}
			mPanels := (g.m + mr - 1) / mr
			if w == 1 {
				packB(0, nPanels)
				g.macro(bp, 0, mPanels, jc, nc, 0, nPanels, pc, kc, beta)
				continue
			}
			Parallel(nPanels, max(1, 8192/(nr*kc)), packB)
			// Split the tiles of C over the workers along whichever of m and n
			// balances better; with ties, m (each worker packs its own A rows).
			if balance(mPanels, w) >= balance(nPanels, w) {
				Parallel(mPanels, 1, func(lo, hi int) {
					g.macro(bp, lo, hi, jc, nc, 0, nPanels, pc, kc, beta)
				})
			} else {
				Parallel(nPanels, 1, func(lo, hi int) {
					g.macro(bp, 0, mPanels, jc, nc, lo, hi, pc, kc, beta)
				})
			}
		}
	}
}

// balance is the fraction of w workers kept busy when n equal items are split evenly.
func balance(n, w int) float64 {
	per := (n + w - 1) / w
	return float64(n) / float64(per*w)
}

// macro multiplies the rows of op(A) in MR-panels [ip0, ip1), depth [pc, pc+kc), by
// the packed B panels [jp0, jp1) of the block at column jc (nc wide), into C.
func (g *gemm) macro(bp []float32, ip0, ip1, jc, nc, jp0, jp1, pc, kc int, beta float32) {
	v := g.v
	mr, nr := v.mr, v.nr
	mcPanels := v.mcMax / mr
	abuf := getBuf(min(mcPanels, ip1-ip0)*mr*kc + mr*nr)
	defer bufPool.Put(abuf)
	tile := (*abuf)[len(*abuf)-mr*nr:] // scratch for edge tiles
	for ib := ip0; ib < ip1; ib += mcPanels {
		ie := min(ip1, ib+mcPanels)
		ap := (*abuf)[:(ie-ib)*mr*kc]
		for ip := ib; ip < ie; ip++ {
			i := ip * mr
			g.packA(ap[(ip-ib)*mr*kc:(ip-ib+1)*mr*kc], pc, kc, i, min(mr, g.m-i))
		}
		for jp := jp0; jp < jp1; jp++ {
			j := jc + jp*nr
			nw := min(nr, jc+nc-j)
			b := bp[jp*nr*kc : (jp+1)*nr*kc]
			for ip := ib; ip < ie; ip++ {
				i := ip * mr
				mh := min(mr, g.m-i)
				a := ap[(ip-ib)*mr*kc : (ip-ib+1)*mr*kc]
				if mh == mr && nw == nr {
					v.kernel(kc, a, b, g.c[i*g.ldc+j:], g.ldc, g.alpha, beta)
					continue
				}
				// Edge tile: compute the full tile aside, then merge its valid part.
				t := tile
				v.kernel(kc, a, b, t, nr, g.alpha, 0)
				for r := range mh {
					crow := g.c[(i+r)*g.ldc+j : (i+r)*g.ldc+j+nw]
					trow := t[r*nr : r*nr+nw]
					if beta == 0 {
						copy(crow, trow)
					} else {
						for q, x := range trow {
							crow[q] = x + beta*crow[q]
						}
					}
				}
			}
		}
	}
}

// packA stores op(A)[i:i+rows, pc:pc+kc] into dst as kc groups of MR values, padding
// rows beyond the matrix with zeros.
func (g *gemm) packA(dst []float32, pc, kc, i, rows int) {
	mr := g.v.mr
	dst = dst[:mr*kc]
	if rows < mr {
		clear(dst)
	}
	if g.transA {
		// op(A)[i+r, p] = a[p*lda + i + r]: each p gives MR consecutive values.
		for p := range kc {
			src := g.a[(pc+p)*g.lda+i : (pc+p)*g.lda+i+rows]
			copy(dst[p*mr:p*mr+rows], src)
		}
		return
	}
	// op(A)[i+r, p] = a[(i+r)*lda + p]: gather each row into a column of the panel.
	for r := range rows {
		src := g.a[(i+r)*g.lda+pc : (i+r)*g.lda+pc+kc]
		for p, x := range src {
			dst[p*mr+r] = x
		}
	}
}

// packB stores op(B)[pc:pc+kc, j:j+cols] into dst as kc groups of NR values, padding
// columns beyond the matrix with zeros.
func (g *gemm) packB(dst []float32, pc, kc, j, cols int) {
	nr := g.v.nr
	dst = dst[:nr*kc]
	if cols < nr {
		clear(dst)
	}
	if !g.transB {
		// op(B)[p, j+q] = b[p*ldb + j + q]: each p gives NR consecutive values.
		for p := range kc {
			src := g.b[(pc+p)*g.ldb+j : (pc+p)*g.ldb+j+cols]
			copy(dst[p*nr:p*nr+cols], src)
		}
		return
	}
	// op(B)[p, j+q] = b[(j+q)*ldb + p]: gather each row of B into a column.
	for q := range cols {
		src := g.b[(j+q)*g.ldb+pc : (j+q)*g.ldb+pc+kc]
		for p, x := range src {
			dst[p*nr+q] = x
		}
	}
}
