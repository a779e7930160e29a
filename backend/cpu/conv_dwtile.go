package cpu

import "fmt"

// The tiled depthwise forward pass (stride 1, dilation 1), also behind the fused
// nearest-neighbour 2× upsampling + depthwise convolution of DepthwiseUp2xForward.
//
// Each worker copies the input rows it reads into a buffer padded with zero columns,
// so every output column has all its taps inside the row and one tile-kernel call
// per output row (and column phase) computes the finished pixels: the accumulators
// start from the bias and see every valid kernel row before they are stored (see
// convVariant.tile). Rows outside the image are skipped (the valid kernel rows of an
// output row are contiguous), so the padding costs nothing there.
//
// Upsampling by u (1 or 2) first: output row u·i + a reads upsampled rows
// u·i + a − PadH + kh, that is input rows ⌊(a − PadH + kh)/u⌋ + i. For each row phase
// a the kernel rows that read the same input row are merged (their weights added),
// leaving a smaller kernel over the input itself (for u = 2 and a 5×5 kernel, 3×3 for
// every phase); columns likewise. The output of phase (a, b) is the strided sub-grid
// of rows ≡ a and columns ≡ b (mod u). For u = 1 there is one phase and the kernel is
// the original one, summed in the same order as depthwiseForwardAct.

// dwAxis is the phase split of one axis: for phase a, kernel taps [0, n[a]) read
// input offsets off[a] + t relative to the output's source index, and tap t of the
// merged kernel sums the original taps in groups[a][t].
type dwAxis struct {
	off, n []int
	groups [][][]int
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// newDWAxis splits an axis with kernel size k and padding pad, upsampled by u.
func newDWAxis(k, pad, u int) dwAxis {
	ax := dwAxis{off: make([]int, u), n: make([]int, u), groups: make([][][]int, u)}
	for a := 0; a < u; a++ {
		lo := floorDiv(a-pad, u)
		hi := floorDiv(a-pad+k-1, u)
		ax.off[a], ax.n[a] = lo, hi-lo+1
		ax.groups[a] = make([][]int, hi-lo+1)
		for t := 0; t < k; t++ {
			g := floorDiv(a-pad+t, u) - lo
			ax.groups[a][g] = append(ax.groups[a][g], t)
		}
	}
	return ax
}

// pads returns the zero columns needed left and right of an input of width w.
func (ax dwAxis) pads(w int) (left, right int) {
	for a := range ax.off {
		left = max(left, -ax.off[a])
		right = max(right, ax.off[a]+ax.n[a]-1)
	}
	return left, right
}

// dwTiledForward computes the depthwise convolution p (stride 1, dilation 1) of the
// u× nearest-neighbour upsampling of x [N, p.H/u, p.W/u, C] into y [N, OH, OW, C],
// with Swish on every finished output row when swish is set.
func dwTiledForward(p ConvParams, u int, x, w, bias, y []float32, swish bool) {
	pl := newDWPlan(p, u, w)
	pl.run(p.N, x, bias, y, swish)
	pl.release()
}

// dwPlan is a tiled depthwise convolution with its weights prepared (merged per
// phase and transposed to [taps][C]), for any batch size: InvertedResidualForward
// prepares once and runs it image by image.
//
// The padded input rows and the prepared weights hold the C channels of a pixel (or
// tap) cs floats apart, cs ≥ C (see dwChannelStride).
type dwPlan struct {
	p          ConvParams
	u          int
	rows, cols dwAxis
	padL, padR int
	cs         int
	wts        [][]float32  // per phase (a, b): [rows.n[a]][cols.n[b]][cs], C used
	bufs       []*[]float32 // scratch behind wts
}

// dwChannelStride is the distance in floats between the pixels of the tiled
// depthwise convolution's padded input: C, or C + 8 when C floats are an even number
// of 64-byte lines and the AVX2 strip kernels run. They read a block of 8 channels
// from every pixel of a few rows; with a stride of 2ᵏ·(odd) lines those loads fall
// into only 1/2ᵏ of the L1 sets and evict each other (measured on Zen 3 for 192
// channels, 46 → 57 GFLOP/s with the extra 8, and for 384 channels 23 → 52). The
// other variants build their tiles from row kernels whose weights are C apart, which
// would take a call per tap with a wider stride, so they keep C.
func dwChannelStride(C int) int {
	if C%8 == 0 && (C*4)%128 == 0 && convKernels.current() == "avx2" {
		return C + 8
	}
	return C
}

func newDWPlan(p ConvParams, u int, w []float32) *dwPlan {
	C := p.C
	cs := dwChannelStride(C)
	pl := &dwPlan{p: p, u: u, rows: newDWAxis(p.KH, p.PadH, u), cols: newDWAxis(p.KW, p.PadW, u), cs: cs}
	pl.padL, pl.padR = pl.cols.pads(p.W / u)
	// the taps of a group added in tap order to the first, from the [KH·KW][C]
	// transpose of w
	wtBuf := transposeDepthwiseWeight(p, w)
	defer putConvScratch(wtBuf)
	wT := *wtBuf
	pl.wts = make([][]float32, u*u)
	for a := 0; a < u; a++ {
		for b := 0; b < u; b++ {
			nr, nc := pl.rows.n[a], pl.cols.n[b]
			buf := getConvScratch(nr * nc * cs)
			pl.bufs = append(pl.bufs, buf)
			wt := (*buf)[:nr*nc*cs]
			for i := 0; i < nr; i++ {
				for j := 0; j < nc; j++ {
					dst := wt[(i*nc+j)*cs : (i*nc+j)*cs+C]
					first := true
					for _, kh := range pl.rows.groups[a][i] {
						for _, kw := range pl.cols.groups[b][j] {
							src := wT[(kh*p.KW+kw)*C : (kh*p.KW+kw+1)*C]
							if first {
								copy(dst, src)
								first = false
							} else {
								convAddTo(dst, src)
							}
						}
					}
				}
			}
			pl.wts[a*u+b] = wt
		}
	}
	return pl
}

func (pl *dwPlan) release() {
	for _, b := range pl.bufs {
		putConvScratch(b)
	}
	pl.bufs, pl.wts = nil, nil
}

// run computes n images (x and y as in dwTiledForward).
func (pl *dwPlan) run(n int, x, bias, y []float32, swish bool) {
	p, u := pl.p, pl.u
	rows, cols, padL, padR := pl.rows, pl.cols, pl.padL, pl.padR
	C := p.C
	h, wd := p.H/u, p.W/u
	oh, ow := p.OutHW()
	pw := wd + padL + padR
	wts := pl.wts
	var zeros *[]float32
	if bias == nil {
		zeros = getConvScratch(C)
		bias = (*zeros)[:C]
		clear(bias)
	}
	k := convKernels.get()
	v := vmathKernels.get()
	cs := pl.cs
	grain := max(1, 32768/(ow*C*max(1, p.KH*p.KW/(u*u))))
	Parallel(n*oh, grain, func(lo, hi int) {
		// input rows copied into zero-padded rows of pw pixels cs floats apart, by image
		buf := getConvScratch(h * pw * cs)
		xp := (*buf)[:h*pw*cs]
		// have[ih] is 1 + the image whose row ih is in xp (on the stack up to 64 rows)
		var haveBuf [64]int
		have := haveBuf[:min(h, len(haveBuf))]
		if h > len(haveBuf) {
			have = make([]int, h)
		}
		need := func(n, ih int) {
			if have[ih] == n+1 {
				return
			}
			have[ih] = n + 1
			dst := xp[ih*pw*cs : (ih+1)*pw*cs]
			src := x[(n*h+ih)*wd*C : (n*h+ih+1)*wd*C]
			clear(dst[:padL*cs])
			if cs == C {
				copy(dst[padL*C:(padL+wd)*C], src)
			} else {
				for j := range wd {
					copy(dst[(padL+j)*cs:(padL+j)*cs+C], src[j*C:(j+1)*C])
				}
			}
			clear(dst[(padL+wd)*cs:])
		}
		for r := lo; r < hi; r++ {
			n, ohi := r/oh, r%oh
			i, a := ohi/u, ohi%u
			yrow := y[r*ow*C : (r+1)*ow*C]
			ih0 := i + rows.off[a]
			kh0, kh1 := max(0, -ih0), min(rows.n[a], h-ih0)
			for ih := ih0 + kh0; ih < ih0+kh1; ih++ {
				need(n, ih)
			}
			for b := 0; b < u; b++ {
				count := (ow - b + u - 1) / u
				if kh0 >= kh1 {
					for j := 0; j < count; j++ {
						copy(yrow[(j*u+b)*C:(j*u+b+1)*C], bias[:C])
					}
					continue
				}
				nc := cols.n[b]
				x0 := ((ih0+kh0)*pw + cols.off[b] + padL) * cs
				k.tile(yrow[b*C:], u*C, bias, xp, x0, cs, pw*cs, wts[a*u+b][kh0*nc*cs:], nc*cs, C, count, nc, kh1-kh0)
			}
			if swish {
				mapSerial(yrow, yrow, v.width, v.swish)
			}
		}
		putConvScratch(buf)
	})
	if zeros != nil {
		putConvScratch(zeros)
	}
}

// tileFromRow builds the tile kernel of a variant from its row kernel: the bias into
// every pixel, then one row-kernel call per kernel row (per tap when c is a part of
// the channels, as the row kernel's weight tap stride is c).
func tileFromRow(row func(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int)) func(y []float32, ys int, b, x []float32, x0, xs, xr int, w []float32, wr, c, count, kw, rows int) {
	return func(y []float32, ys int, b, x []float32, x0, xs, xr int, w []float32, wr, c, count, kw, rows int) {
		for j := 0; j < count; j++ {
			copy(y[j*ys:j*ys+c], b[:c])
		}
		for r := 0; r < rows; r++ {
			if c == xs {
				row(y, ys, x, x0+r*xr, xs, w[r*wr:], xs, c, count, kw)
				continue
			}
			for q := 0; q < kw; q++ {
				row(y, ys, x, x0+r*xr+q*xs, xs, w[r*wr+q*xs:], xs, c, count, 1)
			}
		}
	}
}

// checkTile panics unless the extents a tile kernel touches lie inside the slices.
func checkTile(y []float32, ys int, b, x []float32, x0, xs, xr int, w []float32, wr, c, count, kw, rows int) {
	if ys < 0 || xs < 0 || xr < 0 || wr < 0 || x0 < 0 || len(b) < c ||
		len(y) < (count-1)*ys+c || len(x) < x0+(rows-1)*xr+(count+kw-2)*xs+c || len(w) < (rows-1)*wr+(kw-1)*xs+c {
		panic(fmt.Sprintf("cpu: depthwise tile kernel out of range: c=%d count=%d kw=%d rows=%d ys=%d len(y)=%d x0=%d xs=%d xr=%d len(x)=%d wr=%d len(w)=%d len(b)=%d",
			c, count, kw, rows, ys, len(y), x0, xs, xr, len(x), wr, len(w), len(b)))
	}
}

// DepthwiseUp2xForward computes y = conv(UpsampleNearest2x(x), w) + bias, followed by
// Swish when swish is set, without the upsampled tensor and with fewer
// multiply-adds: p is the depthwise convolution as applied to the upsampled input
// (p.H and p.W even, stride 1, dilation 1, KH = 2·PadH + 1 and KW = 2·PadW + 1, so the
// output is the upsampled size), x is [N, H/2, W/2, C], w is [C, KH, KW, 1], bias is [C]
// or nil, y is [N, H, W, C]. Each output pixel reads the input pixels under its kernel,
// with the weights of the taps that read the same one added first (for 5×5: a 3×3
// kernel per output phase), so results agree with the two steps to rounding. It
// panics when p does not qualify or a slice is too short.
func DepthwiseUp2xForward(p ConvParams, x, w, bias, y []float32, swish bool) {
	checkUp2x("DepthwiseUp2xForward", p)
	small := p
	small.H, small.W = p.H/2, p.W/2
	small.check("DepthwiseUp2xForward", x, w, y, "x", "y")
	if bias != nil && len(bias) < p.C {
		panic(fmt.Sprintf("cpu.DepthwiseUp2xForward: bias has %d elements, need %d", len(bias), p.C))
	}
	if n := p.N * p.H * p.W * p.C; len(y) < n {
		panic(fmt.Sprintf("cpu.DepthwiseUp2xForward: y has %d elements, need %d", len(y), n))
	}
	dwTiledForward(p, 2, x, w, bias, y, swish)
}

// DepthwiseUp2xFits reports whether DepthwiseUp2xForward computes p (the convolution
// as applied to the upsampled input): valid, depthwise, stride 1, dilation 1, an
// even-sized input and a kernel of 2·Pad + 1 on both axes (output of the input's size).
func DepthwiseUp2xFits(p ConvParams) bool {
	return p.Validate() == nil && p.isDepthwise() && p.StrideH == 1 && p.StrideW == 1 && p.DilH == 1 && p.DilW == 1 &&
		p.H%2 == 0 && p.W%2 == 0 && p.KH == 2*p.PadH+1 && p.KW == 2*p.PadW+1
}

// checkUp2x panics unless p is a convolution DepthwiseUp2xForward computes.
func checkUp2x(op string, p ConvParams) {
	if err := p.Validate(); err != nil {
		panic("cpu." + op + ": " + err.Error())
	}
	if !DepthwiseUp2xFits(p) {
		panic(fmt.Sprintf("cpu.%s: %+v is not a same-size, stride-1 depthwise convolution of an even-sized image", op, p))
	}
}

// DepthwiseUp2xTaps returns the multiply-adds per output pixel and channel of
// DepthwiseUp2xForward for kernel kh×kw with padding ph, pw (averaged over the four
// output phases).
func DepthwiseUp2xTaps(kh, kw, ph, pw int) float64 {
	r, c := newDWAxis(kh, ph, 2), newDWAxis(kw, pw, 2)
	return float64((r.n[0]+r.n[1])*(c.n[0]+c.n[1])) / 4
}

// isSingleOutput reports a convolution with one output channel and several input
// channels, stride 1 and dilation 1 (NVAE's image conditional of a Bernoulli or
// Normal decoder), which singleOutputForward computes.
func (p ConvParams) isSingleOutput() bool {
	return p.K == 1 && p.Groups == 1 && p.C >= 8 && p.KH*p.KW > 1 &&
		p.StrideH == 1 && p.StrideW == 1 && p.DilH == 1 && p.DilW == 1
}

// singleOutputForward computes a convolution with one output channel as a depthwise
// convolution of the input channels followed by the sum over channels of each pixel:
// the multiply-adds of the convolution itself, where the im2col GEMM would pad its
// one output column to a whole tile (16 or 32 columns) and first copy KH·KW times
// the input. The sums are added in another order than the GEMM's, so results agree
// with it to rounding.
func singleOutputForward(p ConvParams, x, w, bias, y []float32) {
	C, kk := p.C, p.KH*p.KW
	oh, ow := p.OutHW()
	// w is [1, KH, KW, C]; the depthwise pass takes [C, KH, KW]
	wb := getConvScratch(C * kk)
	wt := (*wb)[:C*kk]
	for t := 0; t < kk; t++ {
		for c := 0; c < C; c++ {
			wt[c*kk+t] = w[t*C+c]
		}
	}
	dp := p
	dp.K, dp.Groups = C, C
	pix := p.N * oh * ow
	zb := getConvScratch(pix * C)
	z := (*zb)[:pix*C]
	dwTiledForward(dp, 1, x, wt, nil, z, false)
	var b0 float32
	if bias != nil {
		b0 = bias[0]
	}
	Parallel(pix, max(1, 4096/C), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := b0
			for _, v := range z[i*C : (i+1)*C] {
				s += v
			}
			y[i] = s
		}
	})
	putConvScratch(zb)
	putConvScratch(wb)
}
