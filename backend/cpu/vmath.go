package cpu

import (
	"fmt"
	"math"
)

// Vectorised transcendental math for the element-wise activations and batch norm.
//
// Every kernel exists as a portable Go implementation ("go", computing in float64 with
// the math package) and, on amd64, as AVX-512 and AVX2+FMA assembly working in float32
// (see vmath_amd64.s, vmath_amd64.h and batchnorm_amd64.s): exp(t) is 2ⁿ·(1 + q) with n = round(t·log2e), r = t − n·ln2
// (Cody–Waite with FMA) and q = expm1(r) from a degree-7 Taylor polynomial;
// expm1(t) = 2ⁿ·q + (2ⁿ − 1); σ(x) = num/(1 + e^−|x|) with num = 1 for x ≥ 0 and
// e^−|x| otherwise, so that no intermediate overflows. Their relative errors stay below
// 3e-7 (about 2.5 ulp) over the whole float32 range (see vmath_test.go).
//
// An assembly kernel handles a whole number of vectors; the wrappers below run the
// remainder through the same kernel on a padded copy, so every element's result is
// independent of how the work is split.

// vmVariant is one implementation of the vectorised kernels. Element-wise kernels take
// slices whose length is a multiple of width; the batch-norm kernels handle the first
// cw channels (a multiple of width) of rows ld floats apart, with per-channel
// parameters interleaved per group of width channels (see the BN drivers).
type vmVariant struct {
	width int

	exp, sigmoid, swish, elu func(dst, src []float32)
	log, tanh                func(dst, src []float32)
	swishBack                func(gx, gy, x []float32)
	eluBack                  func(gx, gy, x, y []float32)

	bnStats func(x []float32, rows, ld, cw int, k, s1, s2 []float64)
	bnFwd   func(y, x []float32, rows, ld, cw int, par []float32, swish bool)
	bnBack1 func(dz, x, gy []float32, rows, ld, cw int, par []float32, sums []float64, swish bool)
	bnBack2 func(gx, x, dz []float32, rows, ld, cw int, par []float32, set bool)
}

// vmathKernels is the vectorised-math family; its portable variant is vmGo.
var vmathKernels = newFamily(FamilyVMath, vmGo)

// mapKernel runs an element-wise kernel over dst/src in parallel, passing the
// remainder that is not a whole vector through a padded copy.
func mapKernel(dst, src []float32, w int, k func(dst, src []float32)) {
	if len(src) != len(dst) {
		panic(fmt.Sprintf("cpu: element-wise map of %d values into %d", len(src), len(dst)))
	}
	Parallel(len(dst), grain, func(lo, hi int) { mapSerial(dst[lo:hi], src[lo:hi], w, k) })
}

// mapSerial runs an element-wise kernel of vector width w over dst/src on the calling
// goroutine, the remainder that is not a whole vector through a padded copy.
func mapSerial(dst, src []float32, w int, k func(dst, src []float32)) {
	n := len(src) / w * w
	if n > 0 {
		k(dst[:n], src[:n])
	}
	if n < len(src) {
		var buf [16]float32
		copy(buf[:], src[n:])
		k(buf[:w], buf[:w])
		copy(dst[n:], buf[:len(src)-n])
	}
}

// ExpSlice sets dst[i] = e^src[i] (dst and src have equal lengths and may be the same).
func ExpSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.exp)
}

// LogSlice sets dst[i] = ln src[i] (−∞ at 0, NaN below; dst and src may be the same).
func LogSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.log)
}

// TanhSlice sets dst[i] = tanh src[i] (dst and src may be the same).
func TanhSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.tanh)
}

// SigmoidSlice sets dst[i] = σ(src[i]) = 1/(1 + e^−src[i]).
func SigmoidSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.sigmoid)
}

// SwishSlice sets dst[i] = src[i]·σ(src[i]).
func SwishSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.swish)
}

// ELUSlice sets dst[i] = src[i] for src[i] > 0 and e^src[i] − 1 otherwise.
func ELUSlice(dst, src []float32) {
	v := vmathKernels.get()
	mapKernel(dst, src, v.width, v.elu)
}

// SwishBackward accumulates gx[i] += gy[i]·Swish'(x[i]), Swish'(x) = σ(x)(1 + x(1 − σ(x))).
func SwishBackward(gx, gy, x []float32) {
	if len(gy) != len(gx) || len(x) != len(gx) {
		panic(fmt.Sprintf("cpu: SwishBackward of %d, %d, %d values", len(gx), len(gy), len(x)))
	}
	v := vmathKernels.get()
	w := v.width
	Parallel(len(gx), grain, func(lo, hi int) {
		n := lo + (hi-lo)/w*w
		if n > lo {
			v.swishBack(gx[lo:n], gy[lo:n], x[lo:n])
		}
		if n < hi {
			var bx, by, bg [16]float32
			copy(bx[:], x[n:hi])
			copy(by[:], gy[n:hi])
			copy(bg[:], gx[n:hi])
			v.swishBack(bg[:w], by[:w], bx[:w])
			copy(gx[n:hi], bg[:])
		}
	})
}

// ELUBackward accumulates gx[i] += gy[i]·ELU'(x[i]) given y = ELU(x): gy where x > 0,
// gy·(y + 1) otherwise.
func ELUBackward(gx, gy, x, y []float32) {
	if len(gy) != len(gx) || len(x) != len(gx) || len(y) != len(gx) {
		panic(fmt.Sprintf("cpu: ELUBackward of %d, %d, %d, %d values", len(gx), len(gy), len(x), len(y)))
	}
	v := vmathKernels.get()
	w := v.width
	Parallel(len(gx), grain, func(lo, hi int) {
		n := lo + (hi-lo)/w*w
		if n > lo {
			v.eluBack(gx[lo:n], gy[lo:n], x[lo:n], y[lo:n])
		}
		if n < hi {
			var bx, by, bd, bg [16]float32
			copy(bx[:], x[n:hi])
			copy(by[:], y[n:hi])
			copy(bd[:], gy[n:hi])
			copy(bg[:], gx[n:hi])
			v.eluBack(bg[:w], bd[:w], bx[:w], by[:w])
			copy(gx[n:hi], bg[:])
		}
	})
}

// SigmoidBackward accumulates gx[i] += gy[i]·y[i]·(1 − y[i]) given y = σ(x).
func SigmoidBackward(gx, gy, y []float32) {
	Parallel(len(gx), grain, func(lo, hi int) {
		g, d, ys := gx[lo:hi], gy[lo:hi], y[lo:hi]
		for i := range g {
			g[i] += d[i] * (ys[i] * (1 - ys[i]))
		}
	})
}

// MulAcc accumulates gx[i] += gy[i]·y[i] (the backward of exp given y = e^x).
func MulAcc(gx, gy, y []float32) {
	Parallel(len(gx), grain, func(lo, hi int) {
		g, d, ys := gx[lo:hi], gy[lo:hi], y[lo:hi]
		for i := range g {
			g[i] += d[i] * ys[i]
		}
	})
}

// ---------------------------------------------------------------- portable variant

// The portable kernels compute in float64 with the math package, so their float32
// results are correctly rounded but for rare double roundings.

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func swishGrad64(x float64) float64 {
	s := sigmoid64(x)
	return s * (1 + x*(1-s))
}

func swish64(x float32) float32 {
	if x < -200 {
		return float32(math.Copysign(0, -1)) // the limit, also for −∞
	}
	return float32(float64(x) * sigmoid64(float64(x)))
}

func elu64(x float32) float32 {
	if x > 0 {
		return x
	}
	return float32(math.Expm1(float64(x)))
}

var vmGo = &vmVariant{
	width: 1,
	exp: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(math.Exp(float64(x)))
		}
	},
	sigmoid: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(sigmoid64(float64(x)))
		}
	},
	log: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(math.Log(float64(x)))
		}
	},
	tanh: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(math.Tanh(float64(x)))
		}
	},
	swish: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = swish64(x)
		}
	},
	elu: func(dst, src []float32) {
		for i, x := range src {
			dst[i] = elu64(x)
		}
	},
	swishBack: func(gx, gy, x []float32) {
		for i, v := range x {
			gx[i] += gy[i] * float32(swishGrad64(float64(v)))
		}
	},
	eluBack: func(gx, gy, x, y []float32) {
		for i, v := range x {
			if v > 0 {
				gx[i] += gy[i]
			} else {
				gx[i] += float32(gy[i] * (y[i] + 1)) // rounded product, as the assembly
			}
		}
	},
	bnStats: func(x []float32, rows, ld, cw int, k, s1, s2 []float64) {
		bnStatsGo(x, rows, ld, 0, cw, k, s1, s2)
	},
	bnFwd: func(y, x []float32, rows, ld, cw int, par []float32, swish bool) {
		bnFwdGo(y, x, rows, ld, 0, cw, par[:cw], par[cw:2*cw], swish)
	},
	bnBack1: func(dz, x, gy []float32, rows, ld, cw int, par []float32, sums []float64, swish bool) {
		bnBack1Go(dz, x, gy, rows, ld, 0, cw, par[:cw], par[cw:2*cw], par[2*cw:3*cw], par[3*cw:4*cw], sums[:cw], sums[cw:2*cw], swish)
	},
	bnBack2: func(gx, x, dz []float32, rows, ld, cw int, par []float32, set bool) {
		bnBack2Go(gx, x, dz, rows, ld, 0, cw, par[:cw], par[cw:2*cw], par[2*cw:3*cw], par[3*cw:4*cw], par[4*cw:5*cw], set)
	},
}
