package cpu

// Assembly kernels of vmath_amd64.s (the batch-norm ones, of batchnorm_amd64.s, are
// declared in batchnorm_amd64.go); n and cw are multiples of the vector width (16
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
func vmLogAVX2(dst, src *float32, n int)

//go:noescape
func vmTanhAVX2(dst, src *float32, n int)

// vmAsmKernels are one instruction set's assembly kernels.
type vmAsmKernels struct {
	exp, sigmoid, swish, elu func(dst, src *float32, n int)
	swishBack                func(gx, gy, x *float32, n int)
	eluBack                  func(gx, gy, x, y *float32, n int)
	bnStats                  func(x *float32, rows, ld, cw int, k, s1, s2 *float64)
	bnFwd                    func(y, x *float32, rows, ld, cw int, par *float32, swish bool)
	bnBack1                  func(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)
	bnBack2                  func(gx, x, dz *float32, rows, ld, cw int, par *float32, set bool)
	// log and tanh exist in AVX2 only (the AVX-512 variant uses them too: its vectors
	// of 16 are two of 8)
	log, tanh func(dst, src *float32, n int)
}

// vmAsmVariant wraps assembly kernels of vector width w (floats) with bounds checks.
func vmAsmVariant(w int, a vmAsmKernels) *vmVariant {
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
		width:   w,
		exp:     unary(a.exp),
		sigmoid: unary(a.sigmoid),
		swish:   unary(a.swish),
		elu:     unary(a.elu),
		log:     unary(a.log),
		tanh:    unary(a.tanh),
		swishBack: func(gx, gy, x []float32) {
			if len(x) == 0 {
				return
			}
			_, _ = gx[len(x)-1], gy[len(x)-1]
			a.swishBack(&gx[0], &gy[0], &x[0], len(x))
		},
		eluBack: func(gx, gy, x, y []float32) {
			if len(x) == 0 {
				return
			}
			_, _, _ = gx[len(x)-1], gy[len(x)-1], y[len(x)-1]
			a.eluBack(&gx[0], &gy[0], &x[0], &y[0], len(x))
		},
		bnStats: func(x []float32, rows, ld, cw int, k, s1, s2 []float64) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = x[(rows-1)*ld+cw-1], k[cw-1], s1[cw-1], s2[cw-1]
			a.bnStats(&x[0], rows, ld, cw, &k[0], &s1[0], &s2[0])
		},
		bnFwd: func(y, x []float32, rows, ld, cw int, par []float32, swish bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _ = y[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], par[2*cw-1]
			a.bnFwd(&y[0], &x[0], rows, ld, cw, &par[0], swish)
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
			a.bnBack1(d, &x[0], &gy[0], rows, ld, cw, &par[0], &sums[0], swish)
		},
		bnBack2: func(gx, x, dz []float32, rows, ld, cw int, par []float32, set bool) {
			if rows == 0 || cw == 0 {
				return
			}
			_, _, _, _ = gx[(rows-1)*ld+cw-1], x[(rows-1)*ld+cw-1], dz[(rows-1)*ld+cw-1], par[5*cw-1]
			a.bnBack2(&gx[0], &x[0], &dz[0], rows, ld, cw, &par[0], set)
		},
	}
}

func init() {
	vmathKernels.add("avx512", prioAVX512, []feature{hasAVX512F, hasAVX2, hasFMA}, vmAsmVariant(16, vmAsmKernels{vmExpAVX512, vmSigmoidAVX512, vmSwishAVX512, vmELUAVX512,
		vmSwishBackAVX512, vmELUBackAVX512, bnStatsAVX512, bnFwdAVX512, bnBack1AVX512, bnBack2AVX512, vmLogAVX2, vmTanhAVX2}))
	vmathKernels.add("avx2", prioAVX2, []feature{hasAVX2, hasFMA}, vmAsmVariant(8, vmAsmKernels{vmExpAVX2, vmSigmoidAVX2, vmSwishAVX2, vmELUAVX2,
		vmSwishBackAVX2, vmELUBackAVX2, bnStatsAVX2, bnFwdAVX2, bnBack1AVX2, bnBack2AVX2, vmLogAVX2, vmTanhAVX2}))
}
