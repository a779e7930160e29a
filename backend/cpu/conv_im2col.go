package cpu

// General k×k dense and grouped convolutions through im2col and Sgemm.
//
// The column matrix has one row per output pixel. A row holds, group by group, the
// KH·KW·Cg input values the pixel sees, in [g][kh][kw][cg] order; for Groups == 1
// that is exactly the OHWI weight row layout, so the forward pass is one GEMM
// cols·Wᵀ, and for grouped convolutions group g is the column block at offset
// g·KH·KW·Cg (row stride KH·KW·C) against the weight rows of group g.
//
// The batch is processed in chunks of whole output rows (image n, output row oh) so
// that the scratch column buffer stays a few MiB whatever the batch size. Chunks run
// one after another, each parallel inside (im2col and col2im over rows via Parallel,
// the GEMM through Sgemm's own parallelism): Sgemm is never called from inside a
// Parallel loop.

// convChunkFloats is the target size, in float32s, of the im2col scratch buffer of
// one chunk (8 MiB: large GEMM calls amortise packing and synchronisation; measured
// faster than 1-4 MiB). A chunk is never smaller than one output row. Tests lower it to
// exercise chunk boundaries.
var convChunkFloats = 1 << 21

// convGeom holds derived sizes shared by the im2col kernels.
type convGeom struct {
	ConvParams
	oh, ow   int
	cg, kg   int
	kk       int // KH·KW
	colW     int // KH·KW·C, length of one column row
	grpW     int // KH·KW·Cg, length of one group's part of a row
	rowsPerC int // output rows (n, oh) per chunk
}

func newConvGeom(p ConvParams) convGeom {
	g := convGeom{ConvParams: p}
	g.oh, g.ow = p.OutHW()
	g.cg, g.kg = p.C/p.Groups, p.K/p.Groups
	g.kk = p.KH * p.KW
	g.colW = g.kk * p.C
	g.grpW = g.kk * g.cg
	g.rowsPerC = max(1, convChunkFloats/(g.ow*g.colW))
	g.rowsPerC = min(g.rowsPerC, p.N*g.oh)
	return g
}

// im2col fills cols with the column rows of output rows [r0, r1) (r = n·OH + oh).
func (g *convGeom) im2col(x, cols []float32, r0, r1 int) {
	grain := max(1, 16384/(g.ow*g.colW))
	Parallel(r1-r0, grain, func(lo, hi int) {
		for r := r0 + lo; r < r0+hi; r++ {
			g.im2colRow(x, cols[(r-r0)*g.ow*g.colW:], r)
		}
	})
}

func (g *convGeom) im2colRow(x, cols []float32, r int) { im2colRowInto(g, x, cols, r, copyF32) }

// copyF32 is copy as a function value.
func copyF32(dst, src []float32) int { return copy(dst, src) }

// im2colRowInto fills the column-matrix rows of output row r (image n, output row oh)
// from x, writing every contiguous run of input values with put: a copy for float32
// columns, a rounding to bf16 for bf16 ones. Padding becomes zeros.
func im2colRowInto[T float32 | uint16](g *convGeom, x []float32, cols []T, r int, put func(dst []T, src []float32) int) {
	n, oh := r/g.oh, r%g.oh
	C, KW, W := g.C, g.KW, g.W
	for ow := 0; ow < g.ow; ow++ {
		dst := cols[ow*g.colW : (ow+1)*g.colW]
		iw0 := ow*g.StrideW - g.PadW
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.StrideH - g.PadH + kh*g.DilH
			rowValid := ih >= 0 && ih < g.H
			base := (n*g.H + ih) * W * C
			if g.Groups == 1 {
				seg := dst[kh*KW*C : (kh+1)*KW*C]
				if !rowValid {
					clear(seg)
					continue
				}
				if g.DilW == 1 && iw0 >= 0 && iw0+KW <= W {
					put(seg, x[base+iw0*C:base+(iw0+KW)*C])
					continue
				}
				for kw := 0; kw < KW; kw++ {
					iw := iw0 + kw*g.DilW
					s := seg[kw*C : (kw+1)*C]
					if iw < 0 || iw >= W {
						clear(s)
					} else {
						put(s, x[base+iw*C:base+(iw+1)*C])
					}
				}
				continue
			}
			for kw := 0; kw < KW; kw++ {
				iw := iw0 + kw*g.DilW
				tap := (kh*KW + kw) * g.cg
				if !rowValid || iw < 0 || iw >= W {
					for gi := 0; gi < g.Groups; gi++ {
						clear(dst[gi*g.grpW+tap : gi*g.grpW+tap+g.cg])
					}
					continue
				}
				src := x[base+iw*C : base+(iw+1)*C]
				for gi := 0; gi < g.Groups; gi++ {
					put(dst[gi*g.grpW+tap:gi*g.grpW+tap+g.cg], src[gi*g.cg:(gi+1)*g.cg])
				}
			}
		}
	}
}

// col2imAdd adds the column gradients dcols of output rows [r0, r1) into dx. It runs
// in gather form, parallel over input rows, so no two workers write the same place.
func (g *convGeom) col2imAdd(dcols, dx []float32, r0, r1 int) {
	nFirst, nLast := r0/g.oh, (r1-1)/g.oh
	units := (nLast - nFirst + 1) * g.H
	grain := max(1, 8192/(g.W*g.C*g.kk))
	Parallel(units, grain, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, ih := nFirst+u/g.H, u%g.H
			ohLo, ohHi := 0, g.oh
			if n == nFirst {
				ohLo = r0 % g.oh
			}
			if n == nLast {
				ohHi = (r1-1)%g.oh + 1
			}
			g.col2imRow(dcols, dx, r0, n, ih, ohLo, ohHi)
		}
	})
}

func (g *convGeom) col2imRow(dcols, dx []float32, r0, n, ih, ohLo, ohHi int) {
	C, W := g.C, g.W
	hit := false
	for kh := 0; kh < g.KH; kh++ {
		t := ih + g.PadH - kh*g.DilH
		if t < 0 {
			break
		}
		if t%g.StrideH != 0 {
			continue
		}
		if oh := t / g.StrideH; oh >= ohLo && oh < ohHi {
			hit = true
			break
		}
	}
	if !hit {
		return
	}
	for iw := 0; iw < W; iw++ {
		dst := dx[((n*g.H+ih)*W+iw)*C : ((n*g.H+ih)*W+iw+1)*C]
		for kh := 0; kh < g.KH; kh++ {
			t := ih + g.PadH - kh*g.DilH
			if t < 0 {
				break
			}
			if t%g.StrideH != 0 {
				continue
			}
			oh := t / g.StrideH
			if oh < ohLo {
				break
			}
			if oh >= ohHi {
				continue
			}
			rowBase := (n*g.oh + oh - r0) * g.ow
			for kw := 0; kw < g.KW; kw++ {
				u := iw + g.PadW - kw*g.DilW
				if u < 0 {
					break
				}
				if u%g.StrideW != 0 {
					continue
				}
				ow := u / g.StrideW
				if ow >= g.ow {
					continue
				}
				src := dcols[(rowBase+ow)*g.colW : (rowBase+ow+1)*g.colW]
				if g.Groups == 1 {
					tap := (kh*g.KW + kw) * C
					convAddTo(dst, src[tap:tap+C])
					continue
				}
				tap := (kh*g.KW + kw) * g.cg
				for gi := 0; gi < g.Groups; gi++ {
					off := gi*g.grpW + tap
					convAddTo(dst[gi*g.cg:(gi+1)*g.cg], src[off:off+g.cg])
				}
			}
		}
	}
}

func im2colForward(p ConvParams, x, w, bias, y []float32) {
	if v := conv3Direct(p, bias != nil); v != nil {
		conv3x3Forward(v, p, x, w, bias, y)
		return
	}
	im2colGEMMForward(p, x, w, bias, y)
}

// im2colGEMMForward is im2colForward through the column matrix.
func im2colGEMMForward(p ConvParams, x, w, bias, y []float32) {
	g := newConvGeom(p)
	total := p.N * g.oh
	buf := getConvScratch(g.rowsPerC * g.ow * g.colW)
	cols := *buf
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		g.im2col(x, cols, r0, r1)
		yc := y[r0*g.ow*p.K:]
		for gi := 0; gi < p.Groups; gi++ {
			sgemm(false, true, m, g.kg, g.grpW, 1, cols[gi*g.grpW:], g.colW,
				w[gi*g.kg*g.grpW:], g.grpW, 0, yc[gi*g.kg:], p.K, biasEpilogue(bias, gi*g.kg))
		}
	}
	putConvScratch(buf)
}

func im2colBackwardData(p ConvParams, dy, w, dx []float32) {
	g := newConvGeom(p)
	total := p.N * g.oh
	buf := getConvScratch(g.rowsPerC * g.ow * g.colW)
	dcols := *buf
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		dyc := dy[r0*g.ow*p.K:]
		for gi := 0; gi < p.Groups; gi++ {
			Sgemm(false, false, m, g.grpW, g.kg, 1, dyc[gi*g.kg:], p.K,
				w[gi*g.kg*g.grpW:], g.grpW, 0, dcols[gi*g.grpW:], g.colW)
		}
		g.col2imAdd(dcols, dx, r0, r1)
	}
	putConvScratch(buf)
}

func im2colBackwardFilter(p ConvParams, x, dy, dw []float32) {
	g := newConvGeom(p)
	total := p.N * g.oh
	buf := getConvScratch(g.rowsPerC * g.ow * g.colW)
	cols := *buf
	for r0 := 0; r0 < total; r0 += g.rowsPerC {
		r1 := min(r0+g.rowsPerC, total)
		m := (r1 - r0) * g.ow
		g.im2col(x, cols, r0, r1)
		dyc := dy[r0*g.ow*p.K:]
		for gi := 0; gi < p.Groups; gi++ {
			Sgemm(true, false, g.kg, g.grpW, m, 1, dyc[gi*g.kg:], p.K,
				cols[gi*g.grpW:], g.colW, 1, dw[gi*g.kg*g.grpW:], g.grpW)
		}
	}
	putConvScratch(buf)
}
