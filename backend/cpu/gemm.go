package cpu

import "fmt"

// gemmVariant is one SGEMM implementation: a microkernel for MR×NR tiles of C and the
// cache blocking that suits it.
type gemmVariant struct {
	mr, nr int
	// kcMax bounds the depth of a block (the A micro-panel, mr×kc, should stay in
	// L1 and the packed B block, kc×nc, in L2), mcMax the rows of a block of C and
	// A, and ncMax the columns of a packed B block. mcMax is a multiple of mr and
	// ncMax of nr.
	kcMax, mcMax, ncMax int
	// kernel sets the mr×nr tile at c (row stride ldc) to alpha·a·b + beta·c, where a
	// is a packed A micro-panel (kc groups of mr values; lda is unused) and b holds kc
	// rows of nr values, ldb apart (ldb = nr for a packed B micro-panel); beta == 0
	// does not read c. On the way it may prefetch the lines of pf into L2 (at most
	// kc/2 of them).
	kernel func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32)
	// direct, if not nil, is kernel reading mr rows of a row-major A with stride lda
	// in place of a packed micro-panel.
	direct func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pf pfChunk, alpha, beta float32)
	// directRow, if not nil, is direct for tiles full tiles side by side in each of
	// panels row panels (mr rows of A and of C each, one after the other): columns
	// nr·t onwards of c, from the B micro-panels b[t·bstride:] (no prefetch), adding
	// bias[j] to column j last when bias is not nil. Products of small depth use it,
	// where the call of each tile, or of each row panel, would cost much of its work.
	directRow func(kc int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bstride, tiles, panels int, alpha, beta float32, bias []float32)
	// conv3, if not nil, is the tile kernel of the direct 3×3 convolution
	// (conv_direct3.go): len(offs)/6 tiles of 6 pixels by 8·nv columns, nv = 1 or 2,
	// each sum over one depth block computed as this variant's microkernels compute it.
	conv3 func(nv int, a []float32, offs []int, pieces *[6]int, b, c []float32, ldc int, add bool, bias []float32)
	// alts are other tile shapes of the same instruction set; a product uses one
	// when it pads it at least 5% less than this one does.
	alts []*gemmVariant
	// bInL1: run the tiles column panel by column panel (the B micro-panel stays
	// in L1) instead of row panel by row panel.
	bInL1 bool
}

// forTile returns the tile shape of v (itself or one of its alternatives) that
// pads an m×n product least.
func (v *gemmVariant) forTile(m, n int) *gemmVariant {
	if forceTile >= 0 {
		if forceTile == 0 {
			return v
		}
		return v.alts[forceTile-1]
	}
	best, area := v, v.padded(m, n)
	for _, a := range v.alts {
		if p := a.padded(m, n); p*20 < area*19 {
			best, area = a, p
		}
	}
	return best
}

// forceTile, when not negative, makes forTile pick v (0) or v.alts[forceTile-1]:
// for tests.
var forceTile = -1

// padded is the size of an m×n product rounded up to whole tiles of v.
func (v *gemmVariant) padded(m, n int) int {
	return (m + v.mr - 1) / v.mr * v.mr * ((n + v.nr - 1) / v.nr * v.nr)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where op(X) is X
// or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the
// row strides of A, B and C as stored. With beta == 0, C is overwritten (its old
// contents, even NaN, are ignored).
//
// The product is cache-blocked: op(B) is packed into panels of NR columns and op(A)
// into panels of MR rows (a non-transposed A is read in place), and an assembly
// microkernel (AVX-512 or AVX2 on amd64, Go elsewhere) multiplies them. On the
// worker pool, C is split into one band of rows or columns per worker, or, for deep
// products with a small C, k is split and the partial products are summed. Slices
// too short for the given sizes and strides make it panic.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue{})
}

// epilogue finishes C once its sums are complete, while it is still in cache: bias[j]
// (when bias is not nil) is added to column j of the whole C, then Swish is applied
// (when swish is set). The zero value does nothing.
type epilogue struct {
	bias  []float32
	swish bool
}

// on reports whether e does anything.
func (e epilogue) on() bool { return e.bias != nil || e.swish }

// apply finishes rows rows of cols values, ldc apart, starting at c[0], which is
// element (row, col) of the whole C for some row (rows are independent); the bias
// only of the columns from biasFrom on (those before have it already).
func (e epilogue) apply(c []float32, ldc, rows, col, cols, biasFrom int) {
	if e.bias != nil && biasFrom < cols {
		b := e.bias[col+biasFrom : col+cols]
		for r := range rows {
			convAddTo(c[r*ldc+biasFrom:r*ldc+cols], b)
		}
	}
	if !e.swish {
		return
	}
	v := vmathKernels.get()
	if ldc == cols {
		// the rows are one contiguous block
		blk := c[:rows*cols]
		mapSerial(blk, blk, v.width, v.swish)
		return
	}
	for r := range rows {
		row := c[r*ldc : r*ldc+cols]
		mapSerial(row, row, v.width, v.swish)
	}
}

// sgemm is Sgemm followed by epi (when not nil) on every region of C, applied as each
// row panel of a column block is finished (so C never makes a separate trip through
// memory for it). Products with an epilogue never split k.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, epi epilogue) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("cpu.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	checkMatrix("C", c, m, n, ldc)
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		epi.apply(c, ldc, m, 0, n, 0)
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
	g := gemm{v: gemmKernels.get().forTile(m, n), transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, epi: epi}
	w := loopWorkers()
	if w == 1 || float64(m)*float64(n)*float64(k) < parallelMinMACs {
		g.run()
		return
	}
	// Deep products with a small C (weight gradients of convolutions) split k: each
	// worker computes a partial C over its range of k, and the partial sums are added.
	if !epi.on() && k >= 2*w*g.v.kcMax && k >= 4*max(m, n) {
		g.runSplitK(w)
		return
	}
	g.runRegions(w)
}

// parallelMinMACs is the smallest product (m·n·k) worth the worker pool: handing a
// task to an idle worker takes some microseconds before it runs (the runtime must
// wake a thread), which is the whole serial time of smaller products (4M
// multiply-adds, 8M flops, take about 55µs on one core at 150 GFLOP/s).
const parallelMinMACs = 1 << 22

// runRegions splits C into w bands of whole tile columns or tile rows and multiplies
// each band serially on its own worker: no barrier but the final join, and each
// worker packs its own B slabs (prefetching the next while multiplying). Bands of
// columns repeat the reading (and, for a transposed A, the packing) of A in every
// worker, bands of rows that of B; the cheaper one is chosen, unless the other
// balances the work clearly better.
func (g *gemm) runRegions(w int) {
	mr, nr := g.v.mr, g.v.nr
	mPanels := (g.m + mr - 1) / mr
	nPanels := (g.n + nr - 1) / nr
	bm, bn := balance(mPanels, w), balance(nPanels, w)
	byCols := g.m <= g.n
	if bn > bm+0.1 {
		byCols = true
	} else if bm > bn+0.1 {
		byCols = false
	}
	Parallel(w, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			s := *g
			if byCols {
				j0, j1 := t*nPanels/w*nr, min(g.n, (t+1)*nPanels/w*nr)
				if j0 >= j1 {
					continue
				}
				s.n = j1 - j0
				s.col0 = g.col0 + j0
				if g.transB {
					s.b = g.b[j0*g.ldb:]
				} else {
					s.b = g.b[j0:]
				}
				s.c = g.c[j0:]
			} else {
				i0, i1 := t*mPanels/w*mr, min(g.m, (t+1)*mPanels/w*mr)
				if i0 >= i1 {
					continue
				}
				s.m = i1 - i0
				if g.transA {
					s.a = g.a[i0:]
				} else {
					s.a = g.a[i0*g.lda:]
				}
				s.c = g.c[i0*g.ldc:]
			}
			s.run()
		}
	})
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
	// epi finishes each region of C once its sums are complete (see sgemm); col0 is the column of the whole C where this product's C starts (a band
	// of runRegions starts further right).
	epi  epilogue
	col0 int
	// packed, when not nil, is op(B) packed beforehand (prepackB), block by block in
	// the order run takes them; bbuf is run's packing buffer otherwise.
	packed []packedB
	bbuf   *[]float32
	// directA: full MR-row panels of a non-transposed A are read in place by
	// v.direct instead of being packed. Measured faster at all shapes tried: the
	// gathering pack of A costs more than the strided reads it saves.
	directA bool
}

// getBuf returns a packing or partial-sum buffer of length n from the convolution
// scratch store (power-of-two classes that the garbage collector does not empty, so
// steady-state products allocate nothing). Return it with putConvScratch.
func getBuf(n int) *[]float32 { return getConvScratch(n) }

// runSplitK splits the depth k into w ranges computed concurrently: the first range
// goes straight into C (with beta), the others overwrite scratch matrices that are
// then added to C.
func (g *gemm) runSplitK(w int) {
	kc := g.v.kcMax
	// Ranges are whole multiples of kc (except the last), so no block is short.
	blocks := (g.k + kc - 1) / kc
	per := (blocks + w - 1) / w
	parts := (blocks + per - 1) / per
	mn := g.m * g.n
	scratch := getBuf((parts - 1) * mn)
	defer putConvScratch(scratch)
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
			s.run()
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

// cBlockFloats is the size of the block of C (mc×nc floats, 512 KiB) that is
// accumulated over k, meant to stay in L2.
const cBlockFloats = 128 << 10

// run computes the product serially (runRegions and runSplitK run it on parts).
//
// Loop structure: op(B) is packed one block of nc columns by kc rows at a time (it
// stays in L2), while the microkernels prefetch the next such block from memory.
// The rows of C are taken in blocks of mc; for each, the piece of op(A) is packed
// (unless it is read in place) and the microkernel runs over all the MR×NR tiles,
// row panel by row panel: the A micro-panel stays in L1 while the B micro-panels
// stream through it from L2.
func (g *gemm) run() {
	v := g.v
	mr, nr := v.mr, v.nr
	// Equal-sized k blocks no deeper than kcMax.
	kBlocks := (g.k + v.kcMax - 1) / v.kcMax
	kc := (g.k + kBlocks - 1) / kBlocks
	ncMax := v.ncMax
	if g.packed == nil {
		nb := min(ncMax, (g.n+nr-1)/nr*nr)
		bbuf := getBuf(kc * nb)
		defer putConvScratch(bbuf)
		g.bbuf = bbuf
	}
	bbuf := g.bbuf
	mPanels := (g.m + mr - 1) / mr
	g.directA = v.direct != nil && !g.transA
	bi := 0 // block index into g.packed
	for jc := 0; jc < g.n; jc += ncMax {
		nc := min(ncMax, g.n-jc)
		nPanels := (nc + nr - 1) / nr
		for k0 := 0; k0 < g.k; k0 += kc {
			k1 := min(g.k, k0+kc)
			var next pfRegion
			if g.packed != nil {
				g.compute(g.packed[bi], 0, mPanels, jc, nc, 0, nPanels, next)
				bi++
				continue
			}
			blk := packedB{buf: (*bbuf)[:(k1-k0)*nPanels*nr], k0: k0, k1: k1, kc: kc, width: nPanels * nr}
			g.packB(blk, jc, nc, k0, k1, 0, nPanels)
			// While this block is multiplied, fetch the next one of B from
			// memory, so that packing it finds it in L2.
			if k1 < g.k {
				next = g.bRegion(jc, nc, k1, min(g.k, k1+kc))
			} else if jc+ncMax < g.n {
				next = g.bRegion(jc+ncMax, min(ncMax, g.n-jc-ncMax), 0, min(g.k, kc))
			}
			g.compute(blk, 0, mPanels, jc, nc, 0, nPanels, next)
		}
	}
}

// prepackedB is op(B) of a product packed once for several products that share it
// (the weights of a convolution run on several chunks of a batch).
type prepackedB struct {
	v      *gemmVariant
	n, k   int
	blocks []packedB
	bufs   []*[]float32
}

// prepackB packs op(B) (k×n) for sgemmPrepacked with products of about m rows (which
// choose the tile shape).
func prepackB(transB bool, m, n, k int, b []float32, ldb int) *prepackedB {
	if transB {
		checkMatrix("B", b, n, k, ldb)
	} else {
		checkMatrix("B", b, k, n, ldb)
	}
	g := gemm{v: gemmKernels.get().forTile(max(m, 1), n), transB: transB, n: n, k: k, b: b, ldb: ldb}
	pb := &prepackedB{v: g.v, n: n, k: k}
	v := g.v
	nr := v.nr
	kBlocks := (k + v.kcMax - 1) / v.kcMax
	kc := (k + kBlocks - 1) / kBlocks
	for jc := 0; jc < n; jc += v.ncMax {
		nc := min(v.ncMax, n-jc)
		nPanels := (nc + nr - 1) / nr
		for k0 := 0; k0 < k; k0 += kc {
			k1 := min(k, k0+kc)
			buf := getBuf((k1 - k0) * nPanels * nr)
			pb.bufs = append(pb.bufs, buf)
			blk := packedB{buf: (*buf)[:(k1-k0)*nPanels*nr], k0: k0, k1: k1, kc: kc, width: nPanels * nr}
			g.packB(blk, jc, nc, k0, k1, 0, nPanels)
			pb.blocks = append(pb.blocks, blk)
		}
	}
	return pb
}

func (pb *prepackedB) release() {
	for _, b := range pb.bufs {
		putConvScratch(b)
	}
	pb.bufs, pb.blocks = nil, nil
}

// sgemmPrepacked is sgemm(false, ·, m, pb.n, pb.k, 1, a, lda, B, ·, 0, c, ldc, epi)
// with B packed beforehand, run serially on the calling goroutine.
func sgemmPrepacked(m int, a []float32, lda int, pb *prepackedB, c []float32, ldc int, epi epilogue) {
	if m <= 0 {
		return
	}
	checkMatrix("C", c, m, pb.n, ldc)
	checkMatrix("A", a, m, pb.k, lda)
	g := gemm{v: pb.v, m: m, n: pb.n, k: pb.k, alpha: 1, a: a, lda: lda, c: c, ldc: ldc, epi: epi, packed: pb.blocks}
	g.run()
}

// balance is the fraction of w workers kept busy when n equal items are split evenly.
func balance(n, w int) float64 {
	per := (n + w - 1) / w
	return float64(n) / float64(per*w)
}

// packedB is op(B)[k0:k1, jc:jc+nc] packed: depth blocks of kc rows (the last one
// possibly shorter) one after the other, each holding width/NR micro-panels of kc
// groups of NR values. k0 is a multiple of kc. (run packs one depth block at a
// time; the layout allows deeper slabs.)
type packedB struct {
	buf    []float32
	k0, k1 int
	kc     int
	width  int // nc rounded up to a multiple of NR
}

// panel returns the micro-panel jp of the depth block starting at row pc, and its depth.
func (b packedB) panel(pc, jp, nr int) ([]float32, int) {
	kc := min(b.kc, b.k1-pc)
	off := (pc-b.k0)*b.width + jp*nr*kc
	return b.buf[off : off+nr*kc], kc
}

// compute accumulates the tiles of C in MR-panels [ip0, ip1) and NR-panels [jp0, jp1)
// of the column block at jc (nc wide) over the depth of the slab bp, packing A as it
// goes (or reading it in place). The microkernels prefetch the next panel of A read
// in place, then the region bg.
func (g *gemm) compute(bp packedB, ip0, ip1, jc, nc, jp0, jp1 int, bg pfRegion) {
	v := g.v
	mr, nr := v.mr, v.nr
	// mc rows: the mc×nc block of C should stay in L2 (≈512 KiB) across k.
	mcPanels := max(1, min(v.mcMax/mr, cBlockFloats/(mr*max(nc, 1))))
	mcPanels = min(mcPanels, ip1-ip0)
	// Equal blocks: a short last block would stream the B slab for little work.
	nBlocks := (ip1 - ip0 + mcPanels - 1) / mcPanels
	mcPanels = (ip1 - ip0 + nBlocks - 1) / nBlocks
	abuf := getBuf(mcPanels*mr*bp.kc + mr*nr)
	defer putConvScratch(abuf)
	tile := (*abuf)[len(*abuf)-mr*nr:] // scratch for edge tiles
	for ib := ip0; ib < ip1; ib += mcPanels {
		ie := min(ip1, ib+mcPanels)
		for pc := bp.k0; pc < bp.k1; pc += bp.kc {
			kc := min(bp.kc, bp.k1-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			ap := (*abuf)[:(ie-ib)*mr*kc]
			for ip := ib; ip < ie; ip++ {
				i := ip * mr
				if g.directA && i+mr <= g.m {
					continue
				}
				g.packA(ap[(ip-ib)*mr*kc:(ip-ib+1)*mr*kc], pc, kc, i, min(mr, g.m-i))
			}
			// the sums of C are complete after this depth block: finish the rows
			last := g.epi.on() && pc+kc >= g.k
			if v.bInL1 {
				// The B micro-panel stays in L1 while the A micro-panels
				// stream through from L2.
				for jp := jp0; jp < jp1; jp++ {
					b, _ := bp.panel(pc, jp, nr)
					for ip := ib; ip < ie; ip++ {
						g.tile(ap[(ip-ib)*mr*kc:(ip-ib+1)*mr*kc], b, ip*mr, jc+jp*nr, jc+nc, pc, kc, beta, tile, bg.take(kc/2))
					}
				}
				if last {
					g.finish(ib*mr, min(ie*mr, g.m), jc, jp0, jp1, jp0)
				}
				continue
			}
			// The A micro-panel stays in L1 while the B micro-panels stream
			// through from L2 (measured faster than the opposite order).
			// the row kernel's operands: the full tile columns [jp0, jp0+full), their B
			// micro-panels (see panel) and, in the last depth block, their bias
			full := 0
			var rowB, rowBias []float32
			if g.directA && v.directRow != nil {
				full = max(0, min(jp1, nc/nr)-jp0)
			}
			if full > 0 {
				rowB = bp.buf[(pc-bp.k0)*bp.width+jp0*nr*kc:]
				if last && g.epi.bias != nil {
					rowBias = g.epi.bias[g.col0+jc+jp0*nr:]
				}
			}
			ip := ib
			if full > 0 && full == jp1-jp0 {
				// only full tiles in the columns: the row panels with all their rows
				// in a few calls of the row kernel, directRowPanels at a time, each
				// group's rows finished while they are in cache
				fullEnd := min(ie, g.m/mr)
				for ip < fullEnd {
					np := min(directRowPanels, fullEnd-ip)
					v.directRow(kc, g.a[ip*mr*g.lda+pc:], g.lda, rowB, nr, g.c[ip*mr*g.ldc+jc+jp0*nr:], g.ldc, nr*kc, full, np, g.alpha, beta, rowBias)
					if last {
						g.finish(ip*mr, (ip+np)*mr, jc, jp0, jp1, jp1)
					}
					ip += np
				}
			}
			for ; ip < ie; ip++ {
				a := ap[(ip-ib)*mr*kc : (ip-ib+1)*mr*kc]
				jp := jp0
				if full > 0 && (ip+1)*mr <= g.m {
					// the full tiles of the row panel in one call, which adds the
					// bias of the last depth block
					v.directRow(kc, g.a[ip*mr*g.lda+pc:], g.lda, rowB, nr, g.c[ip*mr*g.ldc+jc+jp0*nr:], g.ldc, nr*kc, full, 1, g.alpha, beta, rowBias)
					jp += full
				}
				biased := jp      // tile columns [jp0, biased) have their bias
				var next pfRegion // the next panel of A, if read in place
				if g.directA && jp < jp1 {
					ni, npc, nkc := ip+1, pc, kc
					if ni == ie {
						ni = ib
						npc += kc
						if npc >= bp.k1 {
							ni, npc = ie, bp.k0
						}
						nkc = min(bp.kc, bp.k1-npc)
					}
					if ni < ip1 && (ni+1)*mr <= g.m {
						next = pfRegion{base: g.a[ni*mr*g.lda+npc:], lines: (nkc + 15) / 16, ld: g.lda, rows: mr}
					}
				}
				for ; jp < jp1; jp++ {
					b, _ := bp.panel(pc, jp, nr)
					budget := kc / 2
					pf := next.take(budget)
					if pf.rows == 0 {
						pf = bg.take(budget)
					}
					g.tile(a, b, ip*mr, jc+jp*nr, jc+nc, pc, kc, beta, tile, pf)
				}
				if last {
					g.finish(ip*mr, min((ip+1)*mr, g.m), jc, jp0, jp1, biased)
				}
			}
		}
	}
}

// directRowPanels is how many row panels one call of the row kernel computes when the
// columns hold only full tiles: enough to spread the call over several panels, few
// enough that their rows are still in L1 for the epilogue.
const directRowPanels = 8

// finish runs the epilogue on rows [i0, i1) of the tile columns [jp0, jp1) of the
// column block at jc, whose tile columns before jb have their bias already.
func (g *gemm) finish(i0, i1, jc, jp0, jp1, jb int) {
	nr := g.v.nr
	j0, j1 := jc+jp0*nr, min(g.n, jc+jp1*nr)
	if i0 < i1 && j0 < j1 {
		g.epi.apply(g.c[i0*g.ldc+j0:], g.ldc, i1-i0, g.col0+j0, j1-j0, min(j1-j0, (jb-jp0)*nr))
	}
}

// tile runs the microkernel for the tile of C at row i, column j (columns end at
// jEnd), depth block pc (kc deep), with the packed A micro-panel a (unused when A is
// read in place) and the packed B micro-panel b. Edge tiles go through the scratch
// tile and only their valid part is merged into C.
func (g *gemm) tile(a, b []float32, i, j, jEnd, pc, kc int, beta float32, tile []float32, pf pfChunk) {
	v := g.v
	mr, nr := v.mr, v.nr
	mh := min(mr, g.m-i)
	nw := min(nr, jEnd-j)
	direct := g.directA && mh == mr
	if mh == mr && nw == nr {
		if direct {
			v.direct(kc, g.a[i*g.lda+pc:], g.lda, b, nr, g.c[i*g.ldc+j:], g.ldc, pf, g.alpha, beta)
		} else {
			v.kernel(kc, a, 0, b, nr, g.c[i*g.ldc+j:], g.ldc, pf, g.alpha, beta)
		}
		return
	}
	if direct {
		v.direct(kc, g.a[i*g.lda+pc:], g.lda, b, nr, tile, nr, pf, g.alpha, 0)
	} else {
		v.kernel(kc, a, 0, b, nr, tile, nr, pf, g.alpha, 0)
	}
	for r := range mh {
		crow := g.c[(i+r)*g.ldc+j : (i+r)*g.ldc+j+nw]
		trow := tile[r*nr : r*nr+nw]
		if beta == 0 {
			copy(crow, trow)
		} else {
			for q, x := range trow {
				crow[q] = x + beta*crow[q]
			}
		}
	}
}

// pfChunk is the part of a prefetch stream handed to one microkernel call: rows rows
// of lines cache lines each, ld floats apart, from p. Prefetching only hints the
// hardware; the addresses need not be valid.
type pfChunk struct {
	p               *float32
	lines, ld, rows int
}

// pfRegion is a matrix region (rows rows of lines cache lines, ld floats apart, from
// base[0]) to prefetch over several microkernel calls.
type pfRegion struct {
	base            []float32
	lines, ld, rows int
	row, line       int // progress
}

// take hands out the next part of r of at most budget lines.
func (r *pfRegion) take(budget int) pfChunk {
	if r.row >= r.rows || budget <= 0 {
		return pfChunk{}
	}
	if r.line > 0 || r.lines > budget {
		n := min(budget, r.lines-r.line)
		c := pfChunk{p: &r.base[r.row*r.ld+r.line*16], lines: n, ld: r.ld, rows: 1}
		r.line += n
		if r.line == r.lines {
			r.line = 0
			r.row++
		}
		return c
	}
	rows := min(r.rows-r.row, budget/r.lines)
	c := pfChunk{p: &r.base[r.row*r.ld], lines: r.lines, ld: r.ld, rows: rows}
	r.row += rows
	return c
}

// bRegion is the region of the stored B that holds op(B)[k0:k1, jc:jc+nc].
func (g *gemm) bRegion(jc, nc, k0, k1 int) pfRegion {
	if g.transB {
		return pfRegion{base: g.b[jc*g.ldb+k0:], lines: (k1 - k0 + 15) / 16, ld: g.ldb, rows: nc}
	}
	return pfRegion{base: g.b[k0*g.ldb+jc:], lines: (nc + 15) / 16, ld: g.ldb, rows: k1 - k0}
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
		if rows == mr {
			for p := range kc {
				copyPanel(dst[p*mr:], g.a[(pc+p)*g.lda+i:], mr)
			}
			return
		}
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

// packB packs rows [p0, p1) of op(B)[:, jc:jc+nc] into bp (for the transposed
// case p0 and p1 must be multiples of the block depth, or bp.k1) for the micro-panels [jp0, jp1) into bp, padding columns beyond nc
// with zeros.
func (g *gemm) packB(bp packedB, jc, nc, p0, p1, jp0, jp1 int) {
	nr := g.v.nr
	if !g.transB {
		// op(B)[p, j] = b[p*ldb + j]: walk each row of B once, scattering NR-wide
		// pieces into the panels.
		for p := p0; p < p1; p++ {
			pc := p / bp.kc * bp.kc
			kc := min(bp.kc, bp.k1-pc)
			base := (pc-bp.k0)*bp.width + (p-pc)*nr
			row := g.b[p*g.ldb+jc : p*g.ldb+jc+nc]
			full := min(jp1, nc/nr) // panels [jp0, full) are full
			if full > jp0 {
				packKernels.get()(bp.buf[base+jp0*nr*kc:], nr*kc, row[jp0*nr:], full-jp0, nr)
			}
			for jp := max(jp0, full); jp < jp1; jp++ {
				dst := bp.buf[base+jp*nr*kc : base+jp*nr*kc+nr]
				n := copy(dst, row[jp*nr:])
				clear(dst[n:])
			}
		}
		return
	}
	// op(B)[p, j] = b[j*ldb + p]: each stored row of B is a column of op(B).
	for jp := jp0; jp < jp1; jp++ {
		cols := min(nr, nc-jp*nr)
		for pc := p0; pc < p1; pc += bp.kc {
			dst, kc := bp.panel(pc, jp, nr)
			if cols < nr {
				clear(dst)
			}
			j0 := jc + jp*nr
			q := 0
			// Eight (then four) columns at a time: each destination row gets adjacent
			// values per pass, a fraction of the loop overhead of one column at a time.
			for ; q+8 <= cols; q += 8 {
				j := j0 + q
				s0 := g.b[j*g.ldb+pc : j*g.ldb+pc+kc]
				s1 := g.b[(j+1)*g.ldb+pc : (j+1)*g.ldb+pc+kc]
				s2 := g.b[(j+2)*g.ldb+pc : (j+2)*g.ldb+pc+kc]
				s3 := g.b[(j+3)*g.ldb+pc : (j+3)*g.ldb+pc+kc]
				s4 := g.b[(j+4)*g.ldb+pc : (j+4)*g.ldb+pc+kc]
				s5 := g.b[(j+5)*g.ldb+pc : (j+5)*g.ldb+pc+kc]
				s6 := g.b[(j+6)*g.ldb+pc : (j+6)*g.ldb+pc+kc]
				s7 := g.b[(j+7)*g.ldb+pc : (j+7)*g.ldb+pc+kc]
				for p := range kc {
					d := dst[p*nr+q : p*nr+q+8 : p*nr+q+8]
					d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
					d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
				}
			}
			for ; q+4 <= cols; q += 4 {
				j := j0 + q
				s0 := g.b[j*g.ldb+pc : j*g.ldb+pc+kc]
				s1 := g.b[(j+1)*g.ldb+pc : (j+1)*g.ldb+pc+kc]
				s2 := g.b[(j+2)*g.ldb+pc : (j+2)*g.ldb+pc+kc]
				s3 := g.b[(j+3)*g.ldb+pc : (j+3)*g.ldb+pc+kc]
				for p := range kc {
					d := dst[p*nr+q : p*nr+q+4 : p*nr+q+4]
					d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				}
			}
			for ; q < cols; q++ {
				j := j0 + q
				src := g.b[j*g.ldb+pc : j*g.ldb+pc+kc]
				for p, x := range src {
					dst[p*nr+q] = x
				}
			}
		}
	}
}

// packKernels is the family of the B-packing copy, which copies n pieces of width
// consecutive floats from src to dst, dstStride floats apart there.
var packKernels = newFamily(FamilyPack, packRowsGo)

// packRowsGo is the portable packing copy.
func packRowsGo(dst []float32, dstStride int, src []float32, n, width int) {
	for i := range n {
		copyPanel(dst[i*dstStride:], src[i*width:], width)
	}
}

// copyPanel copies n values from src to dst, with fixed-size copies for the panel
// widths of the microkernels.
func copyPanel(dst, src []float32, n int) {
	switch n {
	case 48:
		*(*[48]float32)(dst) = *(*[48]float32)(src)
	case 32:
		*(*[32]float32)(dst) = *(*[32]float32)(src)
	case 16:
		*(*[16]float32)(dst) = *(*[16]float32)(src)
	case 14:
		*(*[14]float32)(dst) = *(*[14]float32)(src)
	case 8:
		*(*[8]float32)(dst) = *(*[8]float32)(src)
	case 6:
		*(*[6]float32)(dst) = *(*[6]float32)(src)
	case 4:
		*(*[4]float32)(dst) = *(*[4]float32)(src)
	default:
		copy(dst[:n], src[:n])
	}
}
