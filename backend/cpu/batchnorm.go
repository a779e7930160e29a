package cpu

import "math"

// BNParams describes batch normalisation over the channels of an [M, C] matrix (an
// NHWC tensor with M = N·H·W), optionally followed by Swish.
type BNParams struct {
	M, C  int
	Eps   float32
	Swish bool
}

// chunks splits [0, m) into one contiguous range per worker.
func chunks(m int) (n, step int) {
	n = Workers()
	if m < n*64 {
		n = 1
	}
	step = (m + n - 1) / n
	return n, step
}

// channelSums returns Σ_rows f(row, c) per channel, accumulated in float64 across
// workers.
func channelSums(m, c int, f func(lo, hi int, acc []float64)) []float64 {
	n, step := chunks(m)
	part := make([][]float64, n)
	Parallel(n, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			acc := make([]float64, c)
			r0, r1 := t*step, min((t+1)*step, m)
			if r0 < r1 {
				f(r0, r1, acc)
			}
			part[t] = acc
		}
	})
	sum := part[0]
	for _, p := range part[1:] {
		for j := range sum {
			sum[j] += p[j]
		}
	}
	return sum
}

// BNStats computes the per-channel mean and biased variance of x [M, C] (two passes,
// float64 accumulation) into mean and variance.
func BNStats(p BNParams, x []float32, mean, variance []float32) {
	c := p.C
	s := channelSums(p.M, c, func(lo, hi int, acc []float64) {
		for r := lo; r < hi; r++ {
			for j, v := range x[r*c : (r+1)*c] {
				acc[j] += float64(v)
			}
		}
	})
	mu := make([]float64, c)
	for j := range s {
		mu[j] = s[j] / float64(p.M)
		mean[j] = float32(mu[j])
	}
	q := channelSums(p.M, c, func(lo, hi int, acc []float64) {
		for r := lo; r < hi; r++ {
			for j, v := range x[r*c : (r+1)*c] {
				d := float64(v) - mu[j]
				acc[j] += d * d
			}
		}
	})
	for j := range q {
		variance[j] = float32(q[j] / float64(p.M))
	}
}

// BNForward writes y = act((x − mean)·invstd·gamma + beta) with invstd = 1/√(var+eps).
func BNForward(p BNParams, x, mean, variance, gamma, beta, y []float32) {
	c := p.C
	scale := make([]float32, c)
	shift := make([]float32, c)
	for j := 0; j < c; j++ {
		inv := float32(1 / math.Sqrt(float64(variance[j])+float64(p.Eps)))
		scale[j] = gamma[j] * inv
		shift[j] = beta[j] - mean[j]*scale[j]
	}
	Parallel(p.M, 256, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
			if p.Swish {
				for j, v := range xr {
					yr[j] = Swish(v*scale[j] + shift[j])
				}
			} else {
				for j, v := range xr {
					yr[j] = v*scale[j] + shift[j]
				}
			}
		}
	})
}

// BNBackward accumulates the gradients of BNForward. With train set, mean and variance
// are the batch statistics and the gradient flows through them; otherwise they are
// constants (running statistics). gx, ggamma and gbeta may be nil when not needed.
func BNBackward(p BNParams, train bool, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta []float32) {
	c := p.C
	inv := make([]float32, c)
	for j := 0; j < c; j++ {
		inv[j] = float32(1 / math.Sqrt(float64(variance[j])+float64(p.Eps)))
	}
	// dz: gradient at the normalised-affine output (before the activation).
	dz := func(r, j int, xv float32) (float32, float32) {
		xh := (xv - mean[j]) * inv[j]
		g := gy[r*c+j]
		if p.Swish {
			g *= SwishGrad(xh*gamma[j] + beta[j])
		}
		return g, xh
	}
	sums := channelSums(p.M, 2*c, func(lo, hi int, acc []float64) {
		for r := lo; r < hi; r++ {
			for j, xv := range x[r*c : (r+1)*c] {
				g, xh := dz(r, j, xv)
				acc[j] += float64(g)
				acc[c+j] += float64(g * xh)
			}
		}
	})
	if gbeta != nil {
		for j := 0; j < c; j++ {
			gbeta[j] += float32(sums[j])
		}
	}
	if ggamma != nil {
		for j := 0; j < c; j++ {
			ggamma[j] += float32(sums[c+j])
		}
	}
	if gx == nil {
		return
	}
	m := float32(p.M)
	Parallel(p.M, 256, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for j, xv := range x[r*c : (r+1)*c] {
				g, xh := dz(r, j, xv)
				if train {
					gx[r*c+j] += gamma[j] * inv[j] * (g - float32(sums[j])/m - xh*float32(sums[c+j])/m)
				} else {
					gx[r*c+j] += gamma[j] * inv[j] * g
				}
			}
		}
	})
}
