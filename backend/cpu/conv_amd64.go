package cpu

import "fmt"

//go:generate sh -c "go run conv_asmgen.go > conv_taps_amd64.s"

// Assembly kernels (conv_amd64.s; the fixed-tap row kernels dwRow5AVX512, dwRow3AVX512,
// dwRowDot5AVX512 and dwRowDot3AVX512 are generated into conv_taps_amd64.s by
// conv_asmgen.go). Strides and lengths are in float32 elements.

//go:noescape
func dwMulAddAVX512(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)

//go:noescape
func dwDotAddAVX512(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)

//go:noescape
func convAddAVX512(dst *float32, src *float32, n int)

//go:noescape
func dwRowAVX512(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int, kw int)

//go:noescape
func dwRow5AVX512(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int)

//go:noescape
func dwRow3AVX512(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int)

// checkRow panics unless the extents a row kernel touches lie inside the slices.
// x[x0] is the input of pixel 0, tap 0.
func checkRow(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int) {
	lo, hi := x0, x0+(count-1)*xs+c
	if xk < 0 {
		lo += (kw - 1) * xk
	} else {
		hi += (kw - 1) * xk
	}
	if lo < 0 || hi > len(x) || len(y) < (count-1)*ys+c || len(w) < (kw-1)*c+c || xs < 0 {
		panic(fmt.Sprintf("cpu: depthwise row kernel out of range: c=%d count=%d kw=%d ys=%d len(y)=%d x0=%d xs=%d xk=%d len(x)=%d len(w)=%d",
			c, count, kw, ys, len(y), x0, xs, xk, len(x), len(w)))
	}
}

// dwRowAVX512Checked runs the row kernels after checking extents: the
// register-resident-weight kernels for 3 or 5 taps on whole blocks of 64 channels,
// the general one on the rest.
func dwRowAVX512Checked(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int) {
	if count <= 0 || c == 0 || kw <= 0 {
		return
	}
	checkRow(y, ys, x, x0, xs, w, xk, c, count, kw)
	full := 0
	switch kw {
	case 5:
		if full = c &^ 63; full > 0 {
			dwRow5AVX512(&y[0], ys, &x[x0], xs, &w[0], c, xk, full, count)
		}
	case 3:
		if full = c &^ 63; full > 0 {
			dwRow3AVX512(&y[0], ys, &x[x0], xs, &w[0], c, xk, full, count)
		}
	}
	if full < c {
		dwRowAVX512(&y[full], ys, &x[x0+full], xs, &w[full], c, xk, c-full, count, kw)
	}
}

//go:noescape
func dwRowDot5AVX512(acc *float32, ws int, x *float32, xs int, dy *float32, ys int, xk int, c int, count int)

//go:noescape
func dwRowDot3AVX512(acc *float32, ws int, x *float32, xs int, dy *float32, ys int, xk int, c int, count int)

// dwRowDotAVX512Checked runs the register-resident-accumulator kernels for 3 or 5
// taps on whole blocks of 64 channels and the per-tap kernel on the rest.
func dwRowDotAVX512Checked(acc []float32, x []float32, x0, xs int, dy []float32, ys, xk, c, count, kw int) {
	if count <= 0 || c == 0 || kw <= 0 {
		return
	}
	full := 0
	if kw == 5 || kw == 3 {
		full = c &^ 63
	}
	if full > 0 {
		// Extents: x from x0 to the last pixel's last tap, dy and acc rows.
		if x0 < 0 || xk < 0 || xs < 0 || x0+(count-1)*xs+(kw-1)*xk+c > len(x) ||
			(count-1)*ys+c > len(dy) || kw*c > len(acc) {
			panic(fmt.Sprintf("cpu: depthwise filter kernel out of range: c=%d count=%d kw=%d x0=%d xs=%d xk=%d len(x)=%d ys=%d len(dy)=%d len(acc)=%d",
				c, count, kw, x0, xs, xk, len(x), ys, len(dy), len(acc)))
		}
		if kw == 5 {
			dwRowDot5AVX512(&acc[0], c, &x[x0], xs, &dy[0], ys, xk, full, count)
		} else {
			dwRowDot3AVX512(&acc[0], c, &x[x0], xs, &dy[0], ys, xk, full, count)
		}
	}
	if full < c {
		rowDotByTaps(dwDotAddAVX512Checked, acc, x, x0, xs, dy, ys, xk, c, count, kw, full)
	}
}

//go:noescape
func dwRowAVX2(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int, kw int)

func dwRowAVX2Checked(y []float32, ys int, x []float32, x0, xs int, w []float32, xk, c, count, kw int) {
	if count <= 0 || c == 0 || kw <= 0 {
		return
	}
	checkRow(y, ys, x, x0, xs, w, xk, c, count, kw)
	dwRowAVX2(&y[0], ys, &x[x0], xs, &w[0], c, xk, c, count, kw)
}

// conv3x3Tiles6x16AVX2 and conv3x3Tiles6x8AVX2 are the direct 3×3 convolution's
// tile kernels (see direct3 in conv_asmgen.go and conv_direct3.go).
//
//go:noescape
func conv3x3Tiles6x16AVX2(a *float32, offs *int, tiles int, pieces *[6]int, b *float32, c *float32, ldc int, add int, bias *float32)

//go:noescape
func conv3x3Tiles6x8AVX2(a *float32, offs *int, tiles int, pieces *[6]int, b *float32, c *float32, ldc int, add int, bias *float32)

//go:noescape
func dwTile5x8AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

//go:noescape
func dwTile3x8AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

//go:noescape
func dwTile5x4AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

//go:noescape
func dwTile5x1AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

//go:noescape
func dwTile3x4AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

//go:noescape
func dwTile3x1AVX2(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)

// dwTileAVX2Rows is the AVX2 tile kernel built from the row kernel, for the tap
// counts and channel tails the fixed-tap tile kernels do not take.
var dwTileAVX2Rows = tileFromRow(dwRowAVX2Checked)

// dwTileAVX2Checked runs the AVX2 tile kernels after checking extents: the fixed-tap
// kernels (3 or 5 taps) on strips of 4 pixels, then single pixels, over whole blocks
// of 8 channels; the row-kernel version on the rest.
func dwTileAVX2Checked(y []float32, ys int, b, x []float32, x0, xs, xr int, w []float32, wr, c, count, kw, rows int) {
	if count <= 0 || c <= 0 || kw <= 0 || rows <= 0 {
		return
	}
	checkTile(y, ys, b, x, x0, xs, xr, w, wr, c, count, kw, rows)
	var k8, k4, k1 func(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)
	switch kw {
	case 5:
		k8, k4, k1 = dwTile5x8AVX2, dwTile5x4AVX2, dwTile5x1AVX2
	case 3:
		k8, k4, k1 = dwTile3x8AVX2, dwTile3x4AVX2, dwTile3x1AVX2
	default:
		dwTileAVX2Rows(y, ys, b, x, x0, xs, xr, w, wr, c, count, kw, rows)
		return
	}
	full := c &^ 7
	if full > 0 {
		// strips of 8 pixels, then of 4, then single pixels
		n8 := count &^ 7
		if n8 > 0 {
			k8(&y[0], ys, &b[0], &x[x0], xs, xr, &w[0], wr, full, n8, rows)
		}
		n4 := count &^ 3
		if n4 > n8 {
			k4(&y[n8*ys], ys, &b[0], &x[x0+n8*xs], xs, xr, &w[0], wr, full, n4-n8, rows)
		}
		if n4 < count {
			k1(&y[n4*ys], ys, &b[0], &x[x0+n4*xs], xs, xr, &w[0], wr, full, count-n4, rows)
		}
	}
	if full < c {
		dwTileAVX2Rows(y[full:], ys, b[full:], x, x0+full, xs, xr, w[full:], wr, c-full, count, kw, rows)
	}
}

//go:noescape
func dwMulAddAVX2(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)

//go:noescape
func dwDotAddAVX2(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)

//go:noescape
func convAddAVX2(dst *float32, src *float32, n int)

// dwDotAddAVX512Checked is the checked AVX-512 per-tap filter kernel.
var dwDotAddAVX512Checked func(acc []float32, a []float32, sa int, b []float32, sb int, count int)

// asmKernels wraps raw assembly kernels with the extent checks that keep them
// memory safe.
func asmKernels(
	mulAdd func(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int),
	dotAdd func(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int),
	add func(dst *float32, src *float32, n int)) *convVariant {
	k := &convVariant{
		mulAdd: func(dst []float32, ds int, src []float32, ss int, w []float32, count int) {
			c := len(w)
			if count <= 0 || c == 0 {
				return
			}
			if len(dst) < (count-1)*ds+c || len(src) < (count-1)*ss+c {
				panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d ds=%d len(dst)=%d ss=%d len(src)=%d",
					c, count, ds, len(dst), ss, len(src)))
			}
			mulAdd(&dst[0], ds, &src[0], ss, &w[0], c, count)
		},
		dotAdd: func(acc []float32, a []float32, sa int, b []float32, sb int, count int) {
			c := len(acc)
			if count <= 0 || c == 0 {
				return
			}
			if len(a) < (count-1)*sa+c || len(b) < (count-1)*sb+c {
				panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d sa=%d len(a)=%d sb=%d len(b)=%d",
					c, count, sa, len(a), sb, len(b)))
			}
			dotAdd(&acc[0], &a[0], sa, &b[0], sb, c, count)
		},
		add: func(dst, src []float32) {
			if len(dst) == 0 {
				return
			}
			src = src[:len(dst)]
			add(&dst[0], &src[0], len(dst))
		},
	}
	k.rowDot = rowDotFromTaps(k.dotAdd)
	return k
}

func init() {
	k := asmKernels(dwMulAddAVX2, dwDotAddAVX2, convAddAVX2)
	k.row = dwRowAVX2Checked
	k.tile = dwTileAVX2Checked
	convKernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, k)

	k = asmKernels(dwMulAddAVX512, dwDotAddAVX512, convAddAVX512)
	dwDotAddAVX512Checked = k.dotAdd
	k.row = dwRowAVX512Checked
	k.rowDot = dwRowDotAVX512Checked
	k.tile = tileFromRow(dwRowAVX512Checked)
	convKernels.add("avx512", prioAVX512, []feature{hasAVX512F}, k)
}
