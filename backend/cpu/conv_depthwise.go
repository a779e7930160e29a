package cpu

// Depthwise convolutions (Groups == C == K): direct kernels vectorised over the
// contiguous channel dimension of NHWC. The OHWI weight [C,KH,KW,1] is transposed
// into a [KH·KW, C] scratch so that one kernel tap is a contiguous channel vector.
//
// Every kernel works tap by tap over a whole row of output pixels: for tap (kh, kw)
// the pixels ow in [owLo, owHi) read input pixels ow·StrideW - PadW + kw·DilW, a
// strided run, so one call of the inner kernel does count×C multiply-adds.

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
	oh, ow := p.OutHW()
	C := p.C
	wtBuf := transposeDepthwiseWeight(p, w)
	wt := *wtBuf
	rows := p.N * oh
	grain := max(1, 32768/(ow*C*p.KH*p.KW))
	Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			n, ohi := r/oh, r%oh
			yrow := y[r*ow*C : (r+1)*ow*C]
			if bias == nil {
				clear(yrow)
			} else {
				for o := 0; o < ow; o++ {
					copy(yrow[o*C:(o+1)*C], bias[:C])
				}
			}
			for kh := 0; kh < p.KH; kh++ {
				ih := ohi*p.StrideH - p.PadH + kh*p.DilH
				if ih < 0 || ih >= p.H {
					continue
				}
				xrow := x[(n*p.H+ih)*p.W*C : (n*p.H+ih+1)*p.W*C]
				wrow := wt[kh*p.KW*C : (kh+1)*p.KW*C]
				// Interior columns, where all KW taps fall inside the row, in one
				// call; each border column with its own range of valid taps.
				inLo := (p.PadW + p.StrideW - 1) / p.StrideW
				inHi := 0
				if b := p.W - 1 + p.PadW - (p.KW-1)*p.DilW; b >= 0 {
					inHi = min(ow, b/p.StrideW+1)
				}
				if inLo < inHi {
					dwRow(yrow[inLo*C:], C, xrow, (inLo*p.StrideW-p.PadW)*C, p.StrideW*C, wrow,
						p.DilW*C, C, inHi-inLo, p.KW)
				}
				for o := 0; o < ow; o++ {
					if o == inLo && inLo < inHi {
						o = inHi - 1
						continue
					}
					iw0 := o*p.StrideW - p.PadW // input column of tap 0
					k0 := 0
					if iw0 < 0 {
						k0 = (-iw0 + p.DilW - 1) / p.DilW
					}
					if p.W-1-iw0 < 0 {
						continue
					}
					k1 := min(p.KW, (p.W-1-iw0)/p.DilW+1)
					if k0 < k1 {
						dwRow(yrow[o*C:], C, xrow, (iw0+k0*p.DilW)*C, C, wrow[k0*C:],
							p.DilW*C, C, 1, k1-k0)
					}
				}
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
					depthwiseBackwardDataRow(p, ow, dxrow, dyrow, wt[kh*p.KW*C:(kh+1)*p.KW*C])
					continue
				}
				for kw := 0; kw < p.KW; kw++ {
					lo, hi := dwTapRange(p.W, ow, p.StrideW, p.PadW, kw*p.DilW)
					if lo < hi {
						tap := kh*p.KW + kw
						iw := lo*p.StrideW - p.PadW + kw*p.DilW
						dwMulAdd(dxrow[iw*C:], p.StrideW*C, dyrow[lo*C:], C, wt[tap*C:(tap+1)*C], hi-lo)
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
// Interior columns (all KW taps valid) take one call, each border column its own.
func depthwiseBackwardDataRow(p ConvParams, ow int, dxrow, dyrow, wrow []float32) {
	C, d := p.C, p.DilW
	iwA := max(0, (p.KW-1)*d-p.PadW)
	iwB := min(p.W, ow-p.PadW)
	if iwA < iwB {
		dwRow(dxrow[iwA*C:], C, dyrow, (iwA+p.PadW)*C, C, wrow, -d*C, C, iwB-iwA, p.KW)
	}
	for iw := 0; iw < p.W; iw++ {
		if iw == iwA && iwA < iwB {
			iw = iwB - 1
			continue
		}
		o0 := iw + p.PadW // output column of tap 0; tap k reads o0 - k·d
		k0 := 0
		if o0 > ow-1 {
			k0 = (o0 - (ow - 1) + d - 1) / d
		}
		k1 := min(p.KW, o0/d+1)
		if k0 < k1 {
			dwRow(dxrow[iw*C:], C, dyrow, (o0-k0*d)*C, C, wrow[k0*C:], -d*C, C, 1, k1-k0)
		}
	}
}

func depthwiseBackwardFilter(p ConvParams, x, dy, dw []float32) {
	oh, ow := p.OutHW()
	C, kk := p.C, p.KH*p.KW
	rows := p.N * oh
	nb := min(convReduceBlocks, rows)
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
					for kw := 0; kw < p.KW; kw++ {
						lo, hi := dwTapRange(p.W, ow, p.StrideW, p.PadW, kw*p.DilW)
						if lo >= hi {
							continue
						}
						iw := lo*p.StrideW - p.PadW + kw*p.DilW
						t := kh*p.KW + kw
						dwDotAdd(acc[t*C:(t+1)*C], xrow[iw*C:], p.StrideW*C, dyrow[lo*C:], C, hi-lo)
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

// convKernels is one implementation of the inner kernels of the convolutions.
type convKernels struct {
	name   string
	mulAdd func(dst []float32, ds int, src []float32, ss int, w []float32, count int)
	dotAdd func(acc []float32, a []float32, sa int, b []float32, sb int, count int)
	add    func(dst, src []float32)
	// row sums several taps of a kernel row (with the accumulators in registers
	// in the assembly versions): for j < count, i < c,
	//   y[j·ys + i] += Σ_{k<kw} x[x0 + j·xs + k·xk + i]·w[k·c + i]
	// (xk may be negative).
	row func(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int)
}

// convKernelSets lists the kernel implementations this CPU can run, portable first
// and fastest last. Assembly files append theirs at init and select the last.
var convKernelSets = []convKernels{{"go", dwMulAddGo, dwDotAddGo, convAddGo, dwRowGo}}

// The inner kernels in use.
var (
	dwMulAdd    = dwMulAddGo
	dwDotAdd    = dwDotAddGo
	convAddImpl = convAddGo
	dwRow       = dwRowGo
)

// useConvKernels selects the inner kernels and returns the previous selection.
func useConvKernels(k convKernels) (previous convKernels) {
	previous = convKernels{"", dwMulAdd, dwDotAdd, convAddImpl, dwRow}
	dwMulAdd, dwDotAdd, convAddImpl, dwRow = k.mulAdd, k.dotAdd, k.add, k.row
	return previous
}

// dwRowGo is the portable row kernel; see convKernels.row.
func dwRowGo(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int) {
	for j := 0; j < count; j++ {
		yv := y[j*ys : j*ys+c]
		for k := 0; k < kw; k++ {
			off := x0 + j*xs + k*xk
			xv := x[off : off+c]
			wv := w[k*c : k*c+c]
			i := 0
			for ; i+4 <= c; i += 4 {
				yy := yv[i : i+4 : i+4]
				xx := xv[i : i+4 : i+4]
				ww := wv[i : i+4 : i+4]
				yy[0] += xx[0] * ww[0]
				yy[1] += xx[1] * ww[1]
				yy[2] += xx[2] * ww[2]
				yy[3] += xx[3] * ww[3]
			}
			for ; i < c; i++ {
				yv[i] += xv[i] * wv[i]
			}
		}
	}
}
