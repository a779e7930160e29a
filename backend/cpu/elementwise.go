package cpu

import "math"

// grain is the smallest chunk of an element-wise loop worth handing to a worker.
const grain = 1 << 14

// Map sets dst[i] = f(src[i]) in parallel.
func Map(dst, src []float32, f func(float32) float32) {
	Parallel(len(dst), grain, func(lo, hi int) {
		s := src[lo:hi]
		d := dst[lo:hi]
		for i, v := range s {
			d[i] = f(v)
		}
	})
}

// MapBack accumulates gx[i] += gy[i]·df(x[i], y[i]) in parallel, where y = f(x).
func MapBack(gx, gy, x, y []float32, df func(x, y float32) float32) {
	Parallel(len(gx), grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gx[i] += gy[i] * df(x[i], y[i])
		}
	})
}

// Axpy computes y += a·x (product and sum rounded separately).
func Axpy(a float32, x, y []float32) {
	Parallel(len(y), grain, func(lo, hi int) {
		AxpyF32(a, x[lo:hi], y[lo:hi])
	})
}

// Scale computes dst = a·src.
func Scale(dst []float32, a float32, src []float32) {
	Parallel(len(dst), grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = a * src[i]
		}
	})
}

// Sigmoid is the logistic function in float32 (computed in float64).
func Sigmoid(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// Softplus is log(1+exp(x)) computed stably; like PyTorch it returns x for x > 20.
func Softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// Swish is x·sigmoid(x).
func Swish(x float32) float32 { return x * Sigmoid(x) }

// ELU is x for x > 0, exp(x) − 1 otherwise (α = 1).
func ELU(x float32) float32 {
	if x > 0 {
		return x
	}
	return float32(math.Expm1(float64(x)))
}
