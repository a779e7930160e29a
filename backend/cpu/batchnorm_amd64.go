package cpu

// Assembly batch-norm row kernels of batchnorm_amd64.s (see the bn* fields of
// vmVariant): cw is a multiple of the vector width (16 floats for AVX-512, 8 for
// AVX2), ld the row stride in floats.

//go:noescape
func bnStatsAVX512(x *float32, rows, ld, cw int, k, s1, s2 *float64)

//go:noescape
func bnFwdAVX512(y, x *float32, rows, ld, cw int, par *float32, swish bool)

//go:noescape
func bnBack1AVX512(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)

//go:noescape
func bnBack2AVX512(gx, x, dz *float32, rows, ld, cw int, par *float32, set bool)

//go:noescape
func bnStatsAVX2(x *float32, rows, ld, cw int, k, s1, s2 *float64)

//go:noescape
func bnFwdAVX2(y, x *float32, rows, ld, cw int, par *float32, swish bool)

//go:noescape
func bnBack1AVX2(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)

//go:noescape
func bnBack2AVX2(gx, x, dz *float32, rows, ld, cw int, par *float32, set bool)
