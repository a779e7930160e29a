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
				for kw := 0; kw < p.KW; kw++ {
					lo, hi := dwTapRange(p.W, ow, p.StrideW, p.PadW, kw*p.DilW)
					if lo >= hi {
						continue
					}
					iw := lo*p.StrideW - p.PadW + kw*p.DilW
					t := kh*p.KW + kw
					dwMulAdd(yrow[lo*C:], C, xrow[iw*C:], p.StrideW*C, wt[t*C:(t+1)*C], hi-lo)
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
				for kw := 0; kw < p.KW; kw++ {
					lo, hi := dwTapRange(p.W, ow, p.StrideW, p.PadW, kw*p.DilW)
					if lo >= hi {
						continue
					}
					iw := lo*p.StrideW - p.PadW + kw*p.DilW
					tap := kh*p.KW + kw
					dwMulAdd(dxrow[iw*C:], p.StrideW*C, dyrow[lo*C:], C, wt[tap*C:(tap+1)*C], hi-lo)
				}
			}
		}
	})
	putConvScratch(wtBuf)
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
}

// convKernelSets lists the kernel implementations this CPU can run, portable first
// and fastest last. Assembly files append theirs at init and select the last.
var convKernelSets = []convKernels{{"go", dwMulAddGo, dwDotAddGo, convAddGo}}

// The inner kernels in use.
var (
	dwMulAdd    = dwMulAddGo
	dwDotAdd    = dwDotAddGo
	convAddImpl = convAddGo
)

// useConvKernels selects the inner kernels and returns the previous selection.
func useConvKernels(k convKernels) (previous convKernels) {
	previous = convKernels{"", dwMulAdd, dwDotAdd, convAddImpl}
	dwMulAdd, dwDotAdd, convAddImpl = k.mulAdd, k.dotAdd, k.add
	return previous
}
