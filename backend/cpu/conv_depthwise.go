package cpu

// Depthwise convolutions (Groups == C == K): direct kernels vectorised over the
// contiguous channel dimension of NHWC. The OHWI weight [C,KH,KW,1] is transposed
// into a [KH·KW, C] scratch so that one kernel tap is a contiguous channel vector.
//
// The passes run over rows: forward over output rows, backward-data over input rows
// (gather form, so no two workers write the same row) and backward-filter over
// blocks of output rows with per-block partial sums. Within a row, one call of a
// row kernel sums all KW taps of a kernel row over the interior columns (where
// every tap is inside the image); each border column gets its own call with its
// range of valid taps (see dwColPlan). Backward-data with StrideW > 1 goes tap by
// tap over strided runs instead.

// dwTapRange returns the output columns [lo, hi) whose input column
// ow·stride - pad + off falls inside [0, w).
func dwTapRange(w, ow, stride, pad, off int) (lo, hi int) {
	// ow*stride >= pad - off
	a := pad - off
	if a > 0 {
		lo = (a + stride - 1) / stride
	}
	// ow*stride <= w - 1 + pad - off
	b := w - 1 + pad - off
	if b < 0 {
		return 0, 0
	}
	hi = min(ow, b/stride+1)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// transposeDepthwiseWeight returns the [KH·KW, C] transpose of w [C, KH·KW].
func transposeDepthwiseWeight(p ConvParams, w []float32) *[]float32 {
	kk := p.KH * p.KW
	buf := getConvScratch(kk * p.C)
	wt := *buf
	for c := 0; c < p.C; c++ {
		for t := 0; t < kk; t++ {
			wt[t*p.C+c] = w[c*kk+t]
		}
	}
	return buf
}

func depthwiseForward(p ConvParams, x, w, bias, y []float32) {
	depthwiseForwardAct(p, x, w, bias, y, false)
}

// depthwiseForwardAct is depthwiseForward, followed on each output row, once it is
// complete, by Swish when swish is set.
func depthwiseForwardAct(p ConvParams, x, w, bias, y []float32, swish bool) {
	if p.StrideH == 1 && p.StrideW == 1 && p.DilH == 1 && p.DilW == 1 {
		dwTiledForward(p, 1, x, w, bias, y, swish)
		return
	}
	v := vmathKernels.get()
	oh, ow := p.OutHW()
	C := p.C
	wtBuf := transposeDepthwiseWeight(p, w)
	wt := *wtBuf
	rows := p.N * oh
	grain := max(1, 32768/(ow*C*p.KH*p.KW))
	plan := dwForwardPlan(p, ow)
	Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, ohi := r/oh, r%oh
			yrow := y[r*ow*C : (r+1)*ow*C]
			if bias == nil {
				clear(yrow)
			} else {
				// the bias in every pixel, by doubling copies
				copy(yrow[:C], bias[:C])
				for f := C; f < len(yrow); f *= 2 {
					copy(yrow[f:], yrow[:f])
				}
			}
			for kh := 0; kh < p.KH; kh++ {
				ih := ohi*p.StrideH - p.PadH + kh*p.DilH
				if ih < 0 || ih >= p.H {
					continue
				}
				xrow := x[(n*p.H+ih)*p.W*C : (n*p.H+ih+1)*p.W*C]
				wrow := wt[kh*p.KW*C : (kh+1)*p.KW*C]
				if plan.lo < plan.hi {
					convKernels.get().row(yrow[plan.lo*C:], C, xrow, plan.in*C, p.StrideW*C, wrow,
						p.DilW*C, C, plan.hi-plan.lo, p.KW)
				}
				for _, bc := range plan.border {
					convKernels.get().row(yrow[bc.col*C:], C, xrow, bc.in*C, C, wrow[bc.k0*C:], p.DilW*C, C, 1, bc.k1-bc.k0)
				}
			}
			if swish {
				mapSerial(yrow, yrow, v.width, v.swish)
			}
		}
	})
	putConvScratch(wtBuf)
}

func depthwiseBackwardData(p ConvParams, dy, w, dx []float32) {
	oh, ow := p.OutHW()
	C := p.C
	wtBuf := transposeDepthwiseWeight(p, w)
	wt := *wtBuf
	rows := p.N * p.H
	grain := max(1, 32768/(p.W*C*p.KH*p.KW))
	var plan dwColPlan
	if p.StrideW == 1 {
		plan = dwBackwardDataPlan(p, ow)
	}
	Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, ih := r/p.H, r%p.H
			dxrow := dx[r*p.W*C : (r+1)*p.W*C]
			for kh := 0; kh < p.KH; kh++ {
				t := ih + p.PadH - kh*p.DilH
				if t < 0 {
					break
				}
				if t%p.StrideH != 0 {
					continue
				}
				ohi := t / p.StrideH
				if ohi >= oh {
					continue
				}
				dyrow := dy[(n*oh+ohi)*ow*C : (n*oh+ohi+1)*ow*C]
				if p.StrideW == 1 {
					depthwiseBackwardDataRow(p, &plan, dxrow, dyrow, wt[kh*p.KW*C:(kh+1)*p.KW*C])
					continue
				}
				for kw := 0; kw < p.KW; kw++ {
					lo, hi := dwTapRange(p.W, ow, p.StrideW, p.PadW, kw*p.DilW)
					if lo < hi {
						tap := kh*p.KW + kw
						iw := lo*p.StrideW - p.PadW + kw*p.DilW
						convKernels.get().mulAdd(dxrow[iw*C:], p.StrideW*C, dyrow[lo*C:], C, wt[tap*C:(tap+1)*C], hi-lo)
					}
				}
			}
		}
	})
	putConvScratch(wtBuf)
}

// depthwiseBackwardDataRow adds one kernel row's contribution of dyrow into dxrow
// for StrideW == 1: input column iw gathers dy[iw + PadW - kw·DilW]·w[kw] over the
// kw for which that output column exists, a row-kernel call walking dy backwards.
func depthwiseBackwardDataRow(p ConvParams, plan *dwColPlan, dxrow, dyrow, wrow []float32) {
	C, d := p.C, p.DilW
	if plan.lo < plan.hi {
		convKernels.get().row(dxrow[plan.lo*C:], C, dyrow, plan.in*C, C, wrow, -d*C, C, plan.hi-plan.lo, p.KW)
	}
	for _, bc := range plan.border {
		convKernels.get().row(dxrow[bc.col*C:], C, dyrow, bc.in*C, C, wrow[bc.k0*C:], -d*C, C, 1, bc.k1-bc.k0)
	}
}

// dwColPlan splits the columns of a row pass into one interior run [lo, hi), where
// all KW taps are valid and which one row-kernel call handles (its first column
// reads column in at tap 0), and border columns, each with its own range of valid
// taps. The split is the same for every row, so it is computed once per call.
type dwColPlan struct {
	lo, hi, in int
	border     []dwBorderCol
}

// dwBorderCol is a border column col whose valid taps are [k0, k1); tap k0 reads
// column in.
type dwBorderCol struct{ col, k0, k1, in int }

// dwForwardPlan plans output columns: column o, tap k reads input column
// o·StrideW - PadW + k·DilW, valid inside [0, W).
func dwForwardPlan(p ConvParams, ow int) dwColPlan {
	s, d := p.StrideW, p.DilW
	pl := dwColPlan{lo: (p.PadW + s - 1) / s}
	if b := p.W - 1 + p.PadW - (p.KW-1)*d; b >= 0 {
		pl.hi = min(ow, b/s+1)
	}
	if pl.lo >= pl.hi {
		pl.lo, pl.hi = 0, 0
	}
	pl.in = pl.lo*s - p.PadW
	pl.border = make([]dwBorderCol, 0, ow-(pl.hi-pl.lo))
	for o := 0; o < ow; o++ {
		if o >= pl.lo && o < pl.hi {
			continue
		}
		iw0 := o*s - p.PadW
		if iw0 > p.W-1 {
			continue
		}
		k0 := 0
		if iw0 < 0 {
			k0 = (-iw0 + d - 1) / d
		}
		if k1 := min(p.KW, (p.W-1-iw0)/d+1); k0 < k1 {
			pl.border = append(pl.border, dwBorderCol{o, k0, k1, iw0 + k0*d})
		}
	}
	return pl
}

// dwBackwardDataPlan plans input columns for StrideW == 1: column iw, tap k reads
// output column iw + PadW - k·DilW, valid inside [0, ow).
func dwBackwardDataPlan(p ConvParams, ow int) dwColPlan {
	d := p.DilW
	pl := dwColPlan{lo: max(0, (p.KW-1)*d-p.PadW), hi: min(p.W, ow-p.PadW)}
	if pl.lo >= pl.hi {
		pl.lo, pl.hi = 0, 0
	}
	pl.in = pl.lo + p.PadW
	pl.border = make([]dwBorderCol, 0, p.W-(pl.hi-pl.lo))
	for iw := 0; iw < p.W; iw++ {
		if iw >= pl.lo && iw < pl.hi {
			continue
		}
		o0 := iw + p.PadW
		k0 := 0
		if o0 > ow-1 {
			k0 = (o0 - (ow - 1) + d - 1) / d
		}
		if k1 := min(p.KW, o0/d+1); k0 < k1 {
			pl.border = append(pl.border, dwBorderCol{iw, k0, k1, o0 - k0*d})
		}
	}
	return pl
}

func depthwiseBackwardFilter(p ConvParams, x, dy, dw []float32) {
	oh, ow := p.OutHW()
	C, kk := p.C, p.KH*p.KW
	rows := p.N * oh
	nb := min(convReduceBlocks(), rows)
	plan := dwForwardPlan(p, ow)
	partBuf := getConvScratch(nb * kk * C)
	part := *partBuf
	clear(part)
	Parallel(nb, 1, func(blo, bhi int) {
		for b := blo; b < bhi; b++ {
			acc := part[b*kk*C : (b+1)*kk*C]
			for r := b * rows / nb; r < (b+1)*rows/nb; r++ {
				n, ohi := r/oh, r%oh
				dyrow := dy[r*ow*C : (r+1)*ow*C]
				for kh := 0; kh < p.KH; kh++ {
					ih := ohi*p.StrideH - p.PadH + kh*p.DilH
					if ih < 0 || ih >= p.H {
						continue
					}
					xrow := x[(n*p.H+ih)*p.W*C : (n*p.H+ih+1)*p.W*C]
					arow := acc[kh*p.KW*C : (kh+1)*p.KW*C]
					if plan.lo < plan.hi {
						convKernels.get().rowDot(arow, xrow, plan.in*C, p.StrideW*C, dyrow[plan.lo*C:], C,
							p.DilW*C, C, plan.hi-plan.lo, p.KW)
					}
					for _, bc := range plan.border {
						convKernels.get().rowDot(arow[bc.k0*C:], xrow, bc.in*C, C, dyrow[bc.col*C:], C,
							p.DilW*C, C, 1, bc.k1-bc.k0)
					}
				}
			}
		}
	})
	for b := 1; b < nb; b++ {
		convAddTo(part[:kk*C], part[b*kk*C:(b+1)*kk*C])
	}
	for c := 0; c < C; c++ {
		for t := 0; t < kk; t++ {
			dw[c*kk+t] += part[t*C+c]
		}
	}
	putConvScratch(partBuf)
}

// dwMulAddGo is the portable kernel: for j < count, dst[j·ds + i] += src[j·ss + i]·w[i]
// for i < len(w).
func dwMulAddGo(dst []float32, ds int, src []float32, ss int, w []float32, count int) {
	c := len(w)
	for j := 0; j < count; j++ {
		d := dst[j*ds : j*ds+c]
		s := src[j*ss : j*ss+c]
		i := 0
		for ; i+4 <= c; i += 4 {
			dd := d[i : i+4 : i+4]
			sv := s[i : i+4 : i+4]
			wv := w[i : i+4 : i+4]
			dd[0] += sv[0] * wv[0]
			dd[1] += sv[1] * wv[1]
			dd[2] += sv[2] * wv[2]
			dd[3] += sv[3] * wv[3]
		}
		for ; i < c; i++ {
			d[i] += s[i] * w[i]
		}
	}
}

// dwDotAddGo is the portable kernel: acc[i] += Σ_{j<count} a[j·sa + i]·b[j·sb + i].
func dwDotAddGo(acc []float32, a []float32, sa int, b []float32, sb int, count int) {
	c := len(acc)
	i := 0
	for ; i+4 <= c; i += 4 {
		s0, s1, s2, s3 := acc[i], acc[i+1], acc[i+2], acc[i+3]
		for j := 0; j < count; j++ {
			av := a[j*sa+i : j*sa+i+4 : j*sa+i+4]
			bv := b[j*sb+i : j*sb+i+4 : j*sb+i+4]
			s0 += av[0] * bv[0]
			s1 += av[1] * bv[1]
			s2 += av[2] * bv[2]
			s3 += av[3] * bv[3]
		}
		acc[i], acc[i+1], acc[i+2], acc[i+3] = s0, s1, s2, s3
	}
	for ; i < c; i++ {
		s := acc[i]
		for j := 0; j < count; j++ {
			s += a[j*sa+i] * b[j*sb+i]
		}
		acc[i] = s
	}
}

// convVariant is one implementation of the inner kernels of the convolutions.
type convVariant struct {
	mulAdd func(dst []float32, ds int, src []float32, ss int, w []float32, count int)
	dotAdd func(acc []float32, a []float32, sa int, b []float32, sb int, count int)
	add    func(dst, src []float32)
	// row sums several taps of a kernel row (with the accumulators in registers
	// in the assembly versions): for j < count, i < c,
	//   y[j·ys + i] += Σ_{k<kw} x[x0 + j·xs + k·xk + i]·w[k·c + i]
	// (xk may be negative).
	row func(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int)
	// rowDot accumulates the filter gradient of several taps of a kernel row:
	// for k < kw, i < c,
	//   acc[k·c + i] += Σ_{j<count} x[x0 + j·xs + k·xk + i]·dy[j·ys + i]
	// (xk >= 0).
	rowDot func(acc []float32, x []float32, x0, xs int, dy []float32, ys, xk, c, count, kw int)
	// tile computes finished pixels of a stride-1 depthwise convolution over rows
	// kernel rows: for j < count, i < c,
	//   y[j·ys + i] = b[i] + Σ_{r<rows} Σ_{k<kw} x[x0 + r·xr + (j+k)·xs + i]·w[r·wr + k·xs + i]
	// (the weights' tap stride is xs, the channel count), adding in the order of r
	// then k, as the row kernel does (conv_dwtile.go).
	tile func(y []float32, ys int, b, x []float32, x0, xs, xr int, w []float32, wr, c, count, kw, rows int)
}

// rowDotFromTaps builds a rowDot kernel from a per-tap dotAdd kernel.
func rowDotFromTaps(dotAdd func(acc []float32, a []float32, sa int, b []float32, sb int, count int)) func(acc []float32, x []float32, x0, xs int, dy []float32, ys, xk, c, count, kw int) {
	return func(acc []float32, x []float32, x0, xs int, dy []float32, ys, xk, c, count, kw int) {
		rowDotByTaps(dotAdd, acc, x, x0, xs, dy, ys, xk, c, count, kw, 0)
	}
}

// rowDotByTaps does the rowDot work of channels [c0, c) tap by tap.
func rowDotByTaps(dotAdd func(acc []float32, a []float32, sa int, b []float32, sb int, count int),
	acc []float32, x []float32, x0, xs int, dy []float32, ys, xk, c, count, kw, c0 int) {
	for k := 0; k < kw; k++ {
		dotAdd(acc[k*c+c0:k*c+c], x[x0+k*xk+c0:], xs, dy[c0:], ys, count)
	}
}

// convKernels is the family of the convolution inner kernels.
var convKernels = newFamily(FamilyConv, &convVariant{dwMulAddGo, dwDotAddGo, convAddGo, dwRowGo, rowDotFromTaps(dwDotAddGo), tileFromRow(dwRowGo)})

// dwRowGo is the portable row kernel; see convVariant.row. Four channels at a time
// are summed over the taps in registers.
func dwRowGo(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int) {
	for j := 0; j < count; j++ {
		yv := y[j*ys : j*ys+c]
		xj := x0 + j*xs
		i := 0
		for ; i+4 <= c; i += 4 {
			yy := yv[i : i+4 : i+4]
			s0, s1, s2, s3 := yy[0], yy[1], yy[2], yy[3]
			for k := 0; k < kw; k++ {
				off := xj + k*xk + i
				xx := x[off : off+4 : off+4]
				ww := w[k*c+i : k*c+i+4 : k*c+i+4]
				s0 += xx[0] * ww[0]
				s1 += xx[1] * ww[1]
				s2 += xx[2] * ww[2]
				s3 += xx[3] * ww[3]
			}
			yy[0], yy[1], yy[2], yy[3] = s0, s1, s2, s3
		}
		for ; i < c; i++ {
			s := yv[i]
			for k := 0; k < kw; k++ {
				s += x[xj+k*xk+i] * w[k*c+i]
			}
			yv[i] = s
		}
	}
}
