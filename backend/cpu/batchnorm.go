package cpu

import (
	"fmt"
	"math"
	"sync"
)

// BNParams describes batch normalisation over the channels of an [M, C] matrix (an
// NHWC tensor with M = N·H·W), optionally followed by Swish.
type BNParams struct {
	M, C  int
	Eps   float32
	Swish bool
	// SumGrads, when not nil, is called by a training-mode backward with the
	// per-channel sums Σdz and Σdz·x̂ over the M local rows, after the γ and β
	// gradients took them; it may replace them in place by the sums over every row
	// the statistics cover (synchronized batch normalisation across processes) and
	// returns that number of rows, by which the input gradient then divides. nil:
	// the local sums and M.
	SumGrads func(sumDz, sumDzXhat []float64) int
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

// bnRows is the number of rows one call of a row kernel handles in the forward and
// the second backward pass (parallel grain).
const bnRows = 64

// check panics when the slices of a batch norm are too short for p (a programmer
// error).
func (p BNParams) check(name string, x []float32, perChannel ...[]float32) {
	if p.M < 0 || p.C <= 0 || len(x) < p.M*p.C {
		panic(fmt.Sprintf("cpu.%s: %d values for M=%d C=%d", name, len(x), p.M, p.C))
	}
	for _, s := range perChannel {
		if len(s) < p.C {
			panic(fmt.Sprintf("cpu.%s: %d per-channel values for C=%d", name, len(s), p.C))
		}
	}
}

// bnSplit returns how many leading channels the vector kernels of v handle.
func bnSplit(v *vmVariant, c int) int { return c - c%v.width }

// interleave writes, for each group of w channels among the first cw, w values of
// each of the vectors in turn into par (which it returns, grown as needed); the
// portable variant (w = 1) gets the vectors one after the other instead.
func interleave(par []float32, w, cw int, vecs ...[]float32) []float32 {
	par = par[:0]
	if w == 1 {
		for _, v := range vecs {
			par = append(par, v[:cw]...)
		}
		return par
	}
	for g := 0; g < cw; g += w {
		for _, v := range vecs {
			par = append(par, v[g:g+w]...)
		}
	}
	return par
}

// BNStats computes the per-channel mean and biased variance of x [M, C] into mean and
// variance. It makes one pass over x, summing x − k and (x − k)² in float64 with k the
// first row, which keeps the variance as accurate as a two-pass computation; the
// per-worker partial sums are added in a fixed order, so the result does not depend
// on timing.
func BNStats(p BNParams, x []float32, mean, variance []float32) {
	p.check("BNStats", x, mean, variance)
	c, m := p.C, p.M
	if m == 0 {
		for j := 0; j < c; j++ {
			mean[j], variance[j] = float32(math.NaN()), float32(math.NaN())
		}
		return
	}
	v := vmathKernels.get()
	cw := bnSplit(v, c)
	k := make([]float64, c)
	for j, xv := range x[:c] {
		k[j] = float64(xv)
	}
	n, step := chunks(m)
	part := make([]float64, n*2*c)
	Parallel(n, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			r0, r1 := t*step, min((t+1)*step, m)
			if r0 >= r1 {
				continue
			}
			s1, s2 := part[t*2*c:t*2*c+c], part[t*2*c+c:(t+1)*2*c]
			xs := x[r0*c:]
			v.bnStats(xs, r1-r0, c, cw, k, s1, s2)
			if cw < c {
				bnStatsGo(xs, r1-r0, c, cw, c, k[cw:], s1[cw:], s2[cw:])
			}
		}
	})
	for j := 0; j < c; j++ {
		var s1, s2 float64
		for t := 0; t < n; t++ {
			s1 += part[t*2*c+j]
			s2 += part[t*2*c+c+j]
		}
		d := s1 / float64(m)
		mean[j] = float32(k[j] + d)
		variance[j] = float32(max(s2/float64(m)-d*d, 0))
	}
}

// BNForward writes y = act((x − mean)·invstd·gamma + beta) with invstd = 1/√(var+eps).
func BNForward(p BNParams, x, mean, variance, gamma, beta, y []float32) {
	p.check("BNForward", x, mean, variance, gamma, beta)
	p.check("BNForward", y)
	c := p.C
	scale := make([]float32, c)
	shift := make([]float32, c)
	for j := 0; j < c; j++ {
		inv := float32(1 / math.Sqrt(float64(variance[j])+float64(p.Eps)))
		scale[j] = gamma[j] * inv
		shift[j] = beta[j] - mean[j]*scale[j]
	}
	v := vmathKernels.get()
	cw := bnSplit(v, c)
	par := interleave(make([]float32, 0, 2*cw), v.width, cw, scale, shift)
	Parallel(p.M, bnRows, func(lo, hi int) {
		xs, ys := x[lo*c:], y[lo*c:]
		v.bnFwd(ys, xs, hi-lo, c, cw, par, p.Swish)
		if cw < c {
			bnFwdGo(ys, xs, hi-lo, c, cw, c, scale[cw:], shift[cw:], p.Swish)
		}
	})
}

// scratch holds the buffers of dz between the passes of BNBackward.
var scratch sync.Pool

// BNBackward accumulates the gradients of BNForward. With train set, mean and variance
// are the batch statistics and the gradient flows through them; otherwise they are
// constants (running statistics). gx, ggamma and gbeta may be nil when not needed.
//
// The first pass computes dz, the gradient at the pre-activation (once per element;
// with Swish it is kept in a scratch buffer), and the per-channel float64 sums of dz
// and dz·x̂ from a fixed split of the rows; the second forms gx from them.
func BNBackward(p BNParams, train bool, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta []float32) {
	bnBackward(p, train, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta, false)
}

// BNBackwardSet is BNBackward with gx overwritten instead of accumulated into (its
// old contents are ignored; ggamma and gbeta still accumulate). Each element of gx
// gets the value that adding it to zero would give.
func BNBackwardSet(p BNParams, train bool, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta []float32) {
	bnBackward(p, train, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta, true)
}

func bnBackward(p BNParams, train bool, x, mean, variance, gamma, beta, gy, gx, ggamma, gbeta []float32, set bool) {
	p.check("BNBackward", x, mean, variance, gamma, beta)
	p.check("BNBackward", gy)
	c, m := p.C, p.M
	inv := make([]float32, c)
	for j := 0; j < c; j++ {
		inv[j] = float32(1 / math.Sqrt(float64(variance[j])+float64(p.Eps)))
	}
	v := vmathKernels.get()
	w := v.width
	cw := bnSplit(v, c)

	dz := gy
	if p.Swish && m > 0 {
		var buf *[]float32
		if b, ok := scratch.Get().(*[]float32); ok && cap(*b) >= m*c {
			buf = b
		} else {
			s := make([]float32, m*c)
			buf = &s
		}
		defer scratch.Put(buf)
		dz = (*buf)[:m*c]
	}

	par := interleave(make([]float32, 0, 5*cw), w, cw, mean, inv, gamma, beta)
	n, step := chunks(m)
	part := make([]float64, n*2*c)
	Parallel(n, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			r0, r1 := t*step, min((t+1)*step, m)
			if r0 >= r1 {
				continue
			}
			sums := part[t*2*c : (t+1)*2*c]
			o := r0 * c
			v.bnBack1(dz[o:], x[o:], gy[o:], r1-r0, c, cw, par, sums[:2*cw], p.Swish)
			if cw < c {
				bnBack1Go(dz[o:], x[o:], gy[o:], r1-r0, c, cw, c, mean[cw:], inv[cw:], gamma[cw:], beta[cw:],
					sums[2*cw:2*cw+c-cw], sums[2*cw+c-cw:], p.Swish)
			}
		}
	})
	// part[t] holds the sums of the vector channels interleaved per group of w
	// (w of dz, then w of dz·x̂), then those of the remaining channels.
	s1, s2 := make([]float64, c), make([]float64, c)
	for t := 0; t < n; t++ {
		sums := part[t*2*c : (t+1)*2*c]
		for j := 0; j < c; j++ {
			var i1, i2 int
			switch {
			case j >= cw:
				i1, i2 = 2*cw+j-cw, 2*cw+c-cw+j-cw
			case w == 1:
				i1, i2 = j, cw+j
			default:
				g, l := j/w, j%w
				i1, i2 = 2*w*g+l, 2*w*g+w+l
			}
			s1[j] += sums[i1]
			s2[j] += sums[i2]
		}
	}
	if gbeta != nil {
		for j := 0; j < c; j++ {
			gbeta[j] += float32(s1[j])
		}
	}
	if ggamma != nil {
		for j := 0; j < c; j++ {
			ggamma[j] += float32(s2[j])
		}
	}
	if gx == nil {
		return
	}
	p.check("BNBackward", gx)
	fm := float32(m)
	if train && p.SumGrads != nil {
		fm = float32(p.SumGrads(s1, s2))
	}
	a, b, cc := make([]float32, c), make([]float32, c), make([]float32, c)
	for j := 0; j < c; j++ {
		a[j] = gamma[j] * inv[j]
		if train {
			b[j] = float32(s1[j]) / fm
			cc[j] = float32(s2[j]) / fm
		}
	}
	par = interleave(par, w, cw, mean, inv, a, b, cc)
	Parallel(m, bnRows, func(lo, hi int) {
		o := lo * c
		v.bnBack2(gx[o:], x[o:], dz[o:], hi-lo, c, cw, par, set)
		if cw < c {
			bnBack2Go(gx[o:], x[o:], dz[o:], hi-lo, c, cw, c, mean[cw:], inv[cw:], a[cw:], b[cw:], cc[cw:], set)
		}
	})
}

// The portable batch-norm kernels work on the channels [c0, c1) of rows ld floats
// apart, with per-channel parameters indexed by channel − c0.

func bnStatsGo(x []float32, rows, ld, c0, c1 int, k, s1, s2 []float64) {
	for r := 0; r < rows; r++ {
		xr := x[r*ld+c0 : r*ld+c1]
		for j, v := range xr {
			d := float64(v) - k[j]
			s1[j] += d
			s2[j] += d * d
		}
	}
}

func bnFwdGo(y, x []float32, rows, ld, c0, c1 int, scale, shift []float32, swish bool) {
	for r := 0; r < rows; r++ {
		xr, yr := x[r*ld+c0:r*ld+c1], y[r*ld+c0:r*ld+c1]
		for j, v := range xr {
			z := float32(float64(v)*float64(scale[j]) + float64(shift[j]))
			if swish {
				z = swish64(z)
			}
			yr[j] = z
		}
	}
}

func bnBack1Go(dz, x, gy []float32, rows, ld, c0, c1 int, mean, inv, gamma, beta []float32, s1, s2 []float64, swish bool) {
	for r := 0; r < rows; r++ {
		o := r*ld + c0
		xr, gr := x[o:r*ld+c1], gy[o:r*ld+c1]
		for j, v := range xr {
			xh := (v - mean[j]) * inv[j]
			g := gr[j]
			if swish {
				z := float32(float64(xh)*float64(gamma[j]) + float64(beta[j]))
				g *= float32(swishGrad64(float64(z)))
				dz[o+j] = g
			}
			s1[j] += float64(g)
			s2[j] += float64(g * xh)
		}
	}
}

func bnBack2Go(gx, x, dz []float32, rows, ld, c0, c1 int, mean, inv, a, b, c []float32, set bool) {
	for r := 0; r < rows; r++ {
		o := r*ld + c0
		xr, dr, gr := x[o:r*ld+c1], dz[o:r*ld+c1], gx[o:r*ld+c1]
		if set {
			for j, v := range xr {
				xh := (v - mean[j]) * inv[j]
				gr[j] = a[j] * (dr[j] - b[j] - xh*c[j])
			}
			continue
		}
		for j, v := range xr {
			xh := (v - mean[j]) * inv[j]
			gr[j] += a[j] * (dr[j] - b[j] - xh*c[j])
		}
	}
}
