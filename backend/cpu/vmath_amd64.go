package cpu

import "golang.org/x/sys/cpu"

// Assembly kernels of vmath_amd64.s; n and cw are multiples of the vector width (16
// floats for AVX-512, 8 for AVX2), ld is the row stride in floats.

//go:noescape
func vmExpAVX512(dst, src *float32, n int)

//go:noescape
func vmSigmoidAVX512(dst, src *float32, n int)

//go:noescape
func vmSwishAVX512(dst, src *float32, n int)

//go:noescape
func vmELUAVX512(dst, src *float32, n int)

//go:noescape
func vmSwishBackAVX512(gx, gy, x *float32, n int)

//go:noescape
func vmELUBackAVX512(gx, gy, x, y *float32, n int)

//go:noescape
func bnStatsAVX512(x *float32, rows, ld, cw int, k, s1, s2 *float64)

//go:noescape
func bnFwdAVX512(y, x *float32, rows, ld, cw int, par *float32, swish bool)

//go:noescape
func bnBack1AVX512(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)

//go:noescape
func bnBack2AVX512(gx, x, dz *float32, rows, ld, cw int, par *float32)

//go:noescape
func vmExpAVX2(dst, src *float32, n int)

//go:noescape
func vmSigmoidAVX2(dst, src *float32, n int)

//go:noescape
func vmSwishAVX2(dst, src *float32, n int)

//go:noescape
func vmELUAVX2(dst, src *float32, n int)

//go:noescape
func vmSwishBackAVX2(gx, gy, x *float32, n int)

//go:noescape
func vmELUBackAVX2(gx, gy, x, y *float32, n int)

//go:noescape
func bnStatsAVX2(x *float32, rows, ld, cw int, k, s1, s2 *float64)

//go:noescape
func bnFwdAVX2(y, x *float32, rows, ld, cw int, par *float32, swish bool)

//go:noescape
func bnBack1AVX2(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)

//go:noescape
func bnBack2AVX2(gx, x, dz *float32, rows, ld, cw int, par *float32)

// asmAVX512Variant wraps the AVX512 kernels with bounds checks.
func asmAVX512Variant() *vmVariant {
	unary := func(k func(dst, src *float32, n int)) func(dst, src []float32) {
		return func(dst, src []float32) {
			if len(src) == 0 {
				return
			}
			_ = dst[len(src)-1]
			k(&dst[0], &src[0], len(src))
		}
	}
	return &vmVariant{
		name:    "avx512",
		width:   16,
		exp:     unary(vmExpAVX512),
		sigmoid: unary(vmSigmoidAVX512),
		swish:   unary(vmSwishAVX512),
		elu:     unary(vmELUAVX512),
		swishBack: func(gx, gy, x []float32) {
			if len(x) == 0 {
				return
			}
			_, _ = gx[len(x)-1], gy[len(x)-1]
			vmSwishBackAVX512(&gx[0], &gy[0], &x[0], len(x))
		},
		eluBack: func(gx, gy, x, y []float32) {
			if len(x) == 0 {
				return
			}
			_, _, _ = gx[len(x)-1], gy[len(x)-1], y[len(x)-1]
			vmELUBackAVX512(&gx[0], &gy[0], &x[0], &y[0], len(x))
		},
		bnStats: func(x []float32, rows, ld, cw int, k, s1, s2 []float64) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = x[(rows-1)*ld+cw-1], k[cw-1], s1[cw-1], s2[cw-1]
			bnStatsAVX512(&x[0], rows, ld, cw, &k[0], &s1[0], &s2[0])
		},
		bnFwd: func(y, x []float32, rows, ld, cw int, par []float32, swish bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _ = y[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], par[2*cw-1]
			bnFwdAVX512(&y[0], &x[0], rows, ld, cw, &par[0], swish)
		},
		bnBack1: func(dz, x, gy []float32, rows, ld, cw int, par []float32, sums []float64, swish bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = x[(rows-1)*ld+cw-1], gy[(rows-1)*ld+cw-1], par[4*cw-1], sums[2*cw-1]
			d := &gy[0]
			if swish {
				_ = dz[(rows-1)*ld+cw-1]
				d = &dz[0]
			}
			bnBack1AVX512(d, &x[0], &gy[0], rows, ld, cw, &par[0], &sums[0], swish)
		},
		bnBack2: func(gx, x, dz []float32, rows, ld, cw int, par []float32) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = gx[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], dz[(rows-1)*ld+cw-1], par[5*cw-1]
			bnBack2AVX512(&gx[0], &x[0], &dz[0], rows, ld, cw, &par[0])
		},
	}
}

// asmAVX2Variant wraps the AVX2 kernels with bounds checks.
func asmAVX2Variant() *vmVariant {
	unary := func(k func(dst, src *float32, n int)) func(dst, src []float32) {
		return func(dst, src []float32) {
			if len(src) == 0 {
				return
			}
			_ = dst[len(src)-1]
			k(&dst[0], &src[0], len(src))
		}
	}
	return &vmVariant{
		name:    "avx2",
		width:   8,
		exp:     unary(vmExpAVX2),
		sigmoid: unary(vmSigmoidAVX2),
		swish:   unary(vmSwishAVX2),
		elu:     unary(vmELUAVX2),
		swishBack: func(gx, gy, x []float32) {
			if len(x) == 0 {
				return
			}
			_, _ = gx[len(x)-1], gy[len(x)-1]
			vmSwishBackAVX2(&gx[0], &gy[0], &x[0], len(x))
		},
		eluBack: func(gx, gy, x, y []float32) {
			if len(x) == 0 {
				return
			}
			_, _, _ = gx[len(x)-1], gy[len(x)-1], y[len(x)-1]
			vmELUBackAVX2(&gx[0], &gy[0], &x[0], &y[0], len(x))
		},
		bnStats: func(x []float32, rows, ld, cw int, k, s1, s2 []float64) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = x[(rows-1)*ld+cw-1], k[cw-1], s1[cw-1], s2[cw-1]
			bnStatsAVX2(&x[0], rows, ld, cw, &k[0], &s1[0], &s2[0])
		},
		bnFwd: func(y, x []float32, rows, ld, cw int, par []float32, swish bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _ = y[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], par[2*cw-1]
			bnFwdAVX2(&y[0], &x[0], rows, ld, cw, &par[0], swish)
		},
		bnBack1: func(dz, x, gy []float32, rows, ld, cw int, par []float32, sums []float64, swish bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = x[(rows-1)*ld+cw-1], gy[(rows-1)*ld+cw-1], par[4*cw-1], sums[2*cw-1]
			d := &gy[0]
			if swish {
				_ = dz[(rows-1)*ld+cw-1]
				d = &dz[0]
			}
			bnBack1AVX2(d, &x[0], &gy[0], rows, ld, cw, &par[0], &sums[0], swish)
		},
		bnBack2: func(gx, x, dz []float32, rows, ld, cw int, par []float32) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = gx[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], dz[(rows-1)*ld+cw-1], par[5*cw-1]
			bnBack2AVX2(&gx[0], &x[0], &dz[0], rows, ld, cw, &par[0])
		},
	}
}

func init() {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerVMVariant(asmAVX512Variant())
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerVMVariant(asmAVX2Variant())
	}
}
