package cpu

import (
	"fmt"
	"sync"
)

// Dense 3×3 convolutions of stride 1 and padding 1 (the latent samplers of NVAE and
// the convolutions of its residual cells) without a column matrix.
//
// im2colForward writes, for every output pixel, the 9·C inputs it reads into a row of
// a column matrix and multiplies that by the weights: the matrix is nine times the
// input, and writing it costs about as much as the product when K is small. Here the
// input is copied once into zero-padded rows (W+2 pixels, and a zero row above and
// below each image), where the 3·C inputs of one kernel row of any output pixel are
// contiguous; a tile kernel (gemmVariant.conv3) reads them in place through one
// offset per pixel. The depth of the product, k = (ky·3 + kx)·C + c as in the column
// matrix, is cut into the same blocks as the GEMM would cut it (equal blocks of at
// most kcMax), each block into at most three runs of contiguous inputs, and every
// sum is computed as the GEMM computes it: products added one fused multiply-add at a
// time from zero within a block, the blocks added to the output, the bias last. So
// the values are those of im2colForward bit for bit (TestConv3x3DirectSameBits).

// conv3Direct returns the GEMM variant whose 3×3 tile kernel computes p's forward
// product (with a bias when hasBias), or nil when p is not such a convolution, the
// variant has no such kernel, or the column-matrix product may split its depth over
// the workers (deep and without an epilogue; see Sgemm), whose rounding this does not
// follow. Then im2colForward goes through the column matrix.
func conv3Direct(p ConvParams, hasBias bool) *gemmVariant {
	if p.KH != 3 || p.KW != 3 || p.StrideH != 1 || p.StrideW != 1 || p.PadH != 1 || p.PadW != 1 ||
		p.DilH != 1 || p.DilW != 1 || p.Groups != 1 || p.K%8 != 0 {
		return nil
	}
	v := gemmKernels.get()
	if v.conv3 == nil || len(v.alts) > 0 {
		return nil
	}
	if w := loopWorkers(); !hasBias && w > 1 && 9*p.C >= 2*w*v.kcMax {
		return nil
	}
	return v
}

// conv3Plan is the layout of one direct 3×3 convolution.
type conv3Plan struct {
	p      ConvParams
	v      *gemmVariant
	pw     int      // padded row width in pixels
	k9, kc int      // depth of the product and of its blocks
	pieces [][6]int // per depth block: (offset, count) of up to three runs
	wp     []float32
	// a unit of work: imgs whole images (rows = H), or rows output rows of one image
	imgs, rows int
}

// conv3x3Forward computes im2colForward(p, x, w, bias, y) with v's 3×3 tile kernel.
func conv3x3Forward(v *gemmVariant, p ConvParams, x, w, bias, y []float32) {
	C, K, H, W := p.C, p.K, p.H, p.W
	pl := conv3Plan{p: p, v: v, pw: W + 2, k9: 9 * C}
	nb := (pl.k9 + v.kcMax - 1) / v.kcMax
	pl.kc = (pl.k9 + nb - 1) / nb
	pl.pieces = make([][6]int, nb)
	run := 3 * C // inputs of one kernel row
	for b := range nb {
		k0, k1 := b*pl.kc, min(pl.k9, (b+1)*pl.kc)
		for n, k := 0, k0; k < k1; n++ {
			ky, r := k/run, k%run
			cnt := min(k1-k, run-r)
			pl.pieces[b][2*n], pl.pieces[b][2*n+1] = ky*pl.pw*C+r, cnt
			k += cnt
		}
	}
	// the weights of each column tile (16 wide, the last one 8 when K is odd in 8s):
	// k9 rows of its width, so a depth block is contiguous
	wbuf := getConvScratch(pl.k9 * K)
	defer putConvScratch(wbuf)
	pl.wp = (*wbuf)[:pl.k9*K]
	for j0 := 0; j0 < K; j0 += 16 {
		nw := min(16, K-j0)
		dst := pl.wp[j0*pl.k9:]
		for j := range nw {
			src := w[(j0+j)*pl.k9 : (j0+j+1)*pl.k9]
			for k, val := range src {
				dst[k*nw+j] = val
			}
		}
	}
	// units whose padded input stays in about a quarter of L2
	budget := max(1<<12, caches.L2/16)
	perImg := (H + 2) * pl.pw * C
	units := 0
	if perImg <= budget {
		pl.imgs, pl.rows = max(1, min(p.N, budget/perImg)), H
		units = (p.N + pl.imgs - 1) / pl.imgs
	} else {
		pl.imgs, pl.rows = 1, max(1, min(H, budget/(pl.pw*C)-2))
		units = p.N * ((H + pl.rows - 1) / pl.rows)
	}
	// units handed to a worker together: at least parallelMinMACs multiply-adds
	grain := max(1, parallelMinMACs/max(1, pl.imgs*pl.rows*W*pl.k9*K))
	Parallel(units, grain, func(lo, hi int) {
		buf := getConvScratch(pl.imgs*(pl.rows+2)*pl.pw*C + 6*K)
		defer putConvScratch(buf)
		ob := getOffsets(pl.imgs*pl.rows*W + 6)
		defer offsetPool.Put(ob)
		for u := lo; u < hi; u++ {
			pl.unit(u, x, bias, y, *buf, *ob)
		}
	})
}

// unit computes the output pixels of work unit u, with buf as scratch for its padded
// input and a partial tile and offs for the pixels' input offsets.
func (pl *conv3Plan) unit(u int, x, bias, y, buf []float32, offs []int) {
	p := pl.p
	C, K, H, W, pw := p.C, p.K, p.H, p.W, pl.pw
	n0, n1, y0, y1 := u*pl.imgs, min(p.N, (u+1)*pl.imgs), 0, H
	if pl.rows < H {
		per := (H + pl.rows - 1) / pl.rows
		n0, n1 = u/per, u/per+1
		y0 = u % per * pl.rows
		y1 = min(H, y0+pl.rows)
	}
	rows := y1 - y0
	// padded rows y0−1 … y1 of each image
	pad := buf[:(n1-n0)*(rows+2)*pw*C]
	for i := range n1 - n0 {
		for pr := range rows + 2 {
			dst := pad[(i*(rows+2)+pr)*pw*C : (i*(rows+2)+pr+1)*pw*C]
			iy := y0 - 1 + pr
			if iy < 0 || iy >= H {
				clear(dst)
				continue
			}
			clear(dst[:C])
			copy(dst[C:(W+1)*C], x[((n0+i)*H+iy)*W*C:((n0+i)*H+iy+1)*W*C])
			clear(dst[(W+1)*C:])
		}
	}
	total := (n1 - n0) * rows * W
	full := total / 6 * 6
	// the offset of every pixel's first input (kernel row 0, column 0); a partial last
	// tile repeats its last pixel
	po := offs[:full+6]
	out := y[((n0*H)+y0)*W*K:]
	last := len(pl.pieces) - 1
	for q := range full + 6 {
		qq := min(q, total-1)
		img, r := qq/(rows*W), qq%(rows*W)
		po[q] = ((img*(rows+2)+r/W)*pw + r%W) * C
	}
	tile := buf[len(pad) : len(pad)+6*K]
	for j0 := 0; j0 < K; j0 += 16 {
		nw := min(16, K-j0)
		wt := pl.wp[j0*pl.k9:]
		for b := range pl.pieces {
			var bb []float32
			if b == last && bias != nil {
				bb = bias[j0 : j0+nw]
			}
			if full > 0 {
				pl.v.conv3(nw/8, pad, po[:full], &pl.pieces[b], wt[b*pl.kc*nw:], out[j0:], K, b > 0, bb)
			}
			if full < total {
				pl.v.conv3(nw/8, pad, po[full:full+6], &pl.pieces[b], wt[b*pl.kc*nw:], tile[j0:], K, b > 0, bb)
			}
		}
	}
	if full < total {
		copy(out[full*K:total*K], tile[:(total-full)*K])
	}
}

// conv3Checked calls the 3×3 tile kernel for 8·nv columns (k16 or k8) on the
// len(offs)/6 tiles of offs after checking that everything it reads and writes lies
// inside the slices.
func conv3Checked(k16, k8 func(a *float32, offs *int, tiles int, pieces *[6]int, b *float32, c *float32, ldc int, add int, bias *float32),
	nv int, a []float32, offs []int, pieces *[6]int, b, c []float32, ldc int, add bool, bias []float32) {
	nw := 8 * nv
	tiles := len(offs) / 6
	if tiles == 0 {
		return
	}
	lo, hi := offs[0], offs[0]
	for _, o := range offs[:6*tiles] {
		lo, hi = min(lo, o), max(hi, o)
	}
	depth := 0
	for n := 0; n < 3 && pieces[2*n+1] > 0; n++ {
		d, cnt := pieces[2*n], pieces[2*n+1]
		if lo < 0 || d < 0 || hi+d+cnt > len(a) {
			panic(fmt.Sprintf("cpu: 3×3 tiles read a[%d:%d] of %d", lo+d, hi+d+cnt, len(a)))
		}
		depth += cnt
	}
	if (nv != 1 && nv != 2) || depth == 0 || len(b) < depth*nw || ldc < nw || len(c) < (6*tiles-1)*ldc+nw || (bias != nil && len(bias) < nw) {
		panic(fmt.Sprintf("cpu: 3×3 tiles of width %d: %d tiles, depth %d, len(b) %d, ldc %d, len(c) %d", nw, tiles, depth, len(b), ldc, len(c)))
	}
	var pb *float32
	if bias != nil {
		pb = &bias[0]
	}
	ad := 0
	if add {
		ad = 1
	}
	k := k16
	if nv == 1 {
		k = k8
	}
	k(&a[0], &offs[0], tiles, pieces, &b[0], &c[0], ldc, ad, pb)
}

// offsetPool holds the pixel offset tables of the direct 3×3 convolution, so the
// evaluation's many small convolutions allocate none in the steady state.
var offsetPool sync.Pool

// getOffsets returns a table of at least n ints from offsetPool; put it back with
// offsetPool.Put.
func getOffsets(n int) *[]int {
	if p, ok := offsetPool.Get().(*[]int); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	t := make([]int, n)
	return &t
}
