package dist

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// pixelGrain is the smallest number of pixels a parallel mixture loop hands to one
// worker (each pixel costs dozens of transcendental functions).
const pixelGrain = 64

// DML edge thresholds and constants of the official implementation, in float32.
const (
	leftEdge    float32 = -0.999 // y below this uses the left tail (pixel value 0)
	rightEdge   float32 = 0.99   // y above this uses the right tail (8 bits: 254 and 255)
	minLogScale float32 = -7     // hard clamp of the log-scales
	minDelta    float32 = 1e-5   // below this bin mass the density approximation is used
)

// discMixLogistic is the discretized mixture of logistics over RGB images (docs/model.md#logistic-mixture).
// The logits [B,H,W,10M] hold, per pixel, M mixture logits and then for each colour
// c the block [means(M), log-scales(M), coefficients(M)].
type discMixLogistic struct {
	logits  *ad.Var
	b, h, w int
	m       int
	maxVal  float32 // 2^bits − 1
	binHalf float32 // 1/maxVal
	logHalf float32 // ln(maxVal/2)
}

// NewDiscMixLogistic is the discretized logistic mixture decoder with numMix
// components over numBits-bit RGB images. logits must be [B,H,W,10·numMix]; other
// shapes are programming errors and panic. The tape is not used at construction and
// is part of the signature for symmetry with the other decoders.
func NewDiscMixLogistic(_ *ad.Tape, logits *ad.Var, numMix, numBits int) Decoder {
	s := logits.Shape()
	if numMix < 1 || numBits < 1 || numBits > 16 || len(s) != 4 || s[3] != 10*numMix {
		panic(fmt.Sprintf("dist.NewDiscMixLogistic: logits %v for %d mixtures, %d bits", s, numMix, numBits))
	}
	mv := float64(int(1)<<numBits - 1)
	return &discMixLogistic{
		logits: logits, b: s[0], h: s[1], w: s[2], m: numMix,
		maxVal: float32(mv), binHalf: float32(1 / mv), logHalf: float32(math.Log(mv / 2)),
	}
}

// Channel offsets of the colour-c block inside a pixel's logits.
func (d *discMixLogistic) meanCh(c, m int) int  { return d.m + 3*d.m*c + m }
func (d *discMixLogistic) scaleCh(c, m int) int { return d.m + 3*d.m*c + d.m + m }
func (d *discMixLogistic) coefCh(c, m int) int  { return d.m + 3*d.m*c + 2*d.m + m }

// params decodes component m of colour c from a pixel's logits row: the mean, the
// clamped log-scale and the tanh coefficient.
func (d *discMixLogistic) params(row []float32, c, m int) (mean, logScale, coef float32) {
	return row[d.meanCh(c, m)], max(row[d.scaleCh(c, m)], minLogScale), tanh32(row[d.coefCh(c, m)])
}

// logistic is one colour's discretized logistic log-probability at y for the
// channel mean mu and log-scale ls. With grad set it also returns the derivatives
// with respect to the centred value y − mu and to ls (computed in float64).
func (d *discMixLogistic) logistic(y, mu, ls float32, grad bool) (val, dcen, ds float32) {
	cen := y - mu
	inv := exp32(-ls)
	switch {
	case y < leftEdge: // log σ(plus)
		plus := inv * (cen + d.binHalf)
		val = plus - cpu.Softplus(plus)
		if grad {
			q := sigmoid64(-float64(plus))
			dcen, ds = float32(q*float64(inv)), float32(-q*float64(plus))
		}
		return val, dcen, ds
	case y > rightEdge: // −softplus(minus) = log(1 − σ(minus))
		minus := inv * (cen - d.binHalf)
		val = -cpu.Softplus(minus)
		if grad {
			q := sigmoid64(float64(minus))
			dcen, ds = float32(-q*float64(inv)), float32(q*float64(minus))
		}
		return val, dcen, ds
	}
	plus := inv * (cen + d.binHalf)
	minus := inv * (cen - d.binHalf)
	p, m := float64(plus), float64(minus)
	ep, em := math.Exp(-p), math.Exp(-m)
	sp, sm := 1/(1+ep), 1/(1+em)
	if delta := float32(sp) - float32(sm); delta > minDelta {
		val = log32(max(delta, 1e-10))
		if grad {
			// Δ > 1e-5 bounds plus and minus from below (their gap is at most
			// 2e^7/maxVal), so ep and em are finite here.
			dp := sp * ep / (1 + ep) // σ'(plus)
			dm := sm * em / (1 + em)
			den := sp - sm
			dcen, ds = float32(float64(inv)*(dp-dm)/den), float32(-(p*dp-m*dm)/den)
		}
		return val, dcen, ds
	}
	mid := inv * cen
	val = mid - ls - 2*cpu.Softplus(mid) - d.logHalf
	if grad {
		q := 1 - 2*sigmoid64(float64(mid))
		dcen, ds = float32(q*float64(inv)), float32(-q*float64(mid)-1)
	}
	return val, dcen, ds
}

// Per-component values the forward pass stores for the backward pass.
const (
	dW      = 9  // ∂total/∂comp_m (the component's posterior weight)
	dPi     = 10 // ∂total/∂π_m = w_m − softmax(π)_m
	dStride = 11 // values per pixel and component
)

// LogProb is the mixture log-likelihood per pixel [B,H,W] of x [B,H,W,3] in [0,1].
// It is one fused op: when a gradient is needed the forward pass stores, per pixel
// and component, the derivatives of each colour's term with respect to its centred
// value and log-scale, the tanh derivatives of the coefficients and the mixture
// weights, so the backward pass is a flat loop without transcendental functions.
func (d *discMixLogistic) LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var {
	mustSame("dist.DiscMixLogistic.LogProb", x.Shape(), []int{d.b, d.h, d.w, 3})
	M, C, P := d.m, 10*d.m, d.b*d.h*d.w
	l, xd := d.logits.Data(), x.Data()
	var deriv []float32 // [P, M, dStride]
	out := tp.Custom([]int{d.b, d.h, d.w}, []*ad.Var{d.logits}, func(g []float32, grad func(int) []float32) {
		d.logProbBack(g, grad(0), xd, deriv)
	})
	o := out.Data()
	grad := out.NeedsGrad()
	if grad {
		dt := tensor.Get(P * M * dStride)
		tp.Own(dt)
		deriv = dt.Data()
	}
	cpu.Parallel(P, pixelGrain, func(lo, hi int) {
		comp := make([]float32, M)
		pe := make([]float64, M)
		for p := lo; p < hi; p++ {
			row := l[p*C : (p+1)*C]
			y0, y1, y2 := 2*xd[3*p]-1, 2*xd[3*p+1]-1, 2*xd[3*p+2]-1
			// log_softmax(π)_m = (π_m − max) − ln Σ exp(π − max)
			pmx := row[0]
			for _, v := range row[1:M] {
				pmx = max(pmx, v)
			}
			ps := 0.0
			for m := range M {
				pe[m] = math.Exp(float64(row[m] - pmx))
				ps += pe[m]
			}
			pnorm := float32(math.Log(ps))
			cmx := float32(math.Inf(-1))
			for m := range M {
				mean0, ls0, k0 := d.params(row, 0, m)
				mean1, ls1, k1 := d.params(row, 1, m)
				mean2, ls2, k2 := d.params(row, 2, m)
				v0, c0, s0 := d.logistic(y0, mean0, ls0, grad)
				v1, c1, s1 := d.logistic(y1, mean1+k0*y0, ls1, grad)
				v2, c2, s2 := d.logistic(y2, mean2+k1*y0+k2*y1, ls2, grad)
				comp[m] = v0 + v1 + v2 + ((row[m] - pmx) - pnorm)
				cmx = max(cmx, comp[m])
				if grad {
					dd := deriv[(p*M+m)*dStride : (p*M+m+1)*dStride]
					dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = c0, s0, c1, s1, c2, s2
					dd[6], dd[7], dd[8] = 1-k0*k0, 1-k1*k1, 1-k2*k2
				}
			}
			s := 0.0
			for _, v := range comp {
				s += math.Exp(float64(v - cmx))
			}
			o[p] = float32(math.Log(s)) + cmx
			if grad {
				for m := range M {
					dd := deriv[(p*M+m)*dStride : (p*M+m+1)*dStride]
					w := math.Exp(float64(comp[m]-cmx)) / s
					dd[dW] = float32(w)
					dd[dPi] = float32(w - pe[m]/ps)
				}
			}
		}
	})
	return out
}

// logProbBack adds the gradient of LogProb with respect to the logits into gl.
func (d *discMixLogistic) logProbBack(g, gl, xd, deriv []float32) {
	if gl == nil {
		return
	}
	M, C, P := d.m, 10*d.m, d.b*d.h*d.w
	l := d.logits.Data()
	cpu.Parallel(P, pixelGrain, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			gp := g[p]
			if gp == 0 {
				continue
			}
			row, gr := l[p*C:(p+1)*C], gl[p*C:(p+1)*C]
			y0, y1 := 2*xd[3*p]-1, 2*xd[3*p+1]-1
			for m := range M {
				dd := deriv[(p*M+m)*dStride : (p*M+m+1)*dStride]
				gr[m] += gp * dd[dPi]
				gm := gp * dd[dW]
				// the channel means enter as y − mean, hence the minus signs
				dmu0, dmu1, dmu2 := -gm*dd[0], -gm*dd[2], -gm*dd[4]
				gr[d.meanCh(0, m)] += dmu0
				gr[d.meanCh(1, m)] += dmu1
				gr[d.meanCh(2, m)] += dmu2
				for c := range 3 {
					if row[d.scaleCh(c, m)] >= minLogScale {
						gr[d.scaleCh(c, m)] += gm * dd[2*c+1]
					}
				}
				// m_G = μ_G + k_R·y_R; m_B = μ_B + k_G·y_R + k_B·y_G; k = tanh(raw)
				gr[d.coefCh(0, m)] += dmu1 * y0 * dd[6]
				gr[d.coefCh(1, m)] += dmu2 * y0 * dd[7]
				gr[d.coefCh(2, m)] += dmu2 * y1 * dd[8]
			}
		}
	})
}

// mixMeans returns, for pixel row, the softmax-weighted channel means and
// coefficients.
func (d *discMixLogistic) mixMeans(row []float32, w []float64) (mu, k [3]float32) {
	M := d.m
	mx := row[0]
	for _, v := range row[1:M] {
		mx = max(mx, v)
	}
	s := 0.0
	for m := 0; m < M; m++ {
		w[m] = math.Exp(float64(row[m] - mx))
		s += w[m]
	}
	for c := 0; c < 3; c++ {
		var am, ak float64
		for m := 0; m < M; m++ {
			mean, _, coef := d.params(row, c, m)
			am += w[m] / s * float64(mean)
			ak += w[m] / s * float64(coef)
		}
		mu[c], k[c] = float32(am), float32(ak)
	}
	return mu, k
}

// rgbOut applies the clipped autoregressive channel recursion to x (in [−1,1]
// before clipping) with coefficients k and writes x/2 + 0.5.
func rgbOut(dst []float32, x, k [3]float32) {
	x0 := clip1(x[0])
	x1 := clip1(x[1] + k[0]*x0)
	x2 := clip1(x[2] + k[1]*x0 + k[2]*x1)
	dst[0], dst[1], dst[2] = x0/2+0.5, x1/2+0.5, x2/2+0.5
}

// Mean is the mixture-weighted mean image: μ̄ = Σ softmax(π)·μ and k̄ = Σ softmax(π)·k
// per colour, then the clipped channel recursion, mapped to [0,1].
func (d *discMixLogistic) Mean() *tensor.Tensor {
	M, C, P := d.m, 10*d.m, d.b*d.h*d.w
	out := tensor.New(d.b, d.h, d.w, 3)
	o, l := out.Data(), d.logits.Data()
	cpu.Parallel(P, pixelGrain, func(lo, hi int) {
		w := make([]float64, M)
		for p := lo; p < hi; p++ {
			mu, k := d.mixMeans(l[p*C:(p+1)*C], w)
			rgbOut(o[3*p:3*p+3], mu, k)
		}
	})
	return out
}

// uniform draws u ~ U(1e-5, 1 − 1e-5).
func uniform(rng *rand.Rand) float64 { return 1e-5 + (1-2e-5)*rng.Float64() }

// Sample picks a component per pixel by Gumbel-max on π/t, draws each colour from
// its logistic with the scale divided by t (so t < 1 widens it), applies the clipped
// channel recursion with the sampled earlier channels and maps to [0,1]. Values are
// not rounded to the bit grid.
func (d *discMixLogistic) Sample(rng *rand.Rand, t float32) *tensor.Tensor {
	M, C, P := d.m, 10*d.m, d.b*d.h*d.w
	out := tensor.New(d.b, d.h, d.w, 3)
	o, l := out.Data(), d.logits.Data()
	for p := 0; p < P; p++ {
		row := l[p*C : (p+1)*C]
		best, bestV := 0, math.Inf(-1)
		for m := 0; m < M; m++ {
			v := float64(row[m]/t) - math.Log(-math.Log(uniform(rng)))
			if v > bestV {
				best, bestV = m, v
			}
		}
		var x, k [3]float32
		for c := 0; c < 3; c++ {
			mean, ls, coef := d.params(row, c, best)
			u := uniform(rng)
			x[c] = mean + exp32(ls)/t*float32(math.Log(u)-math.Log(1-u))
			k[c] = coef
		}
		rgbOut(o[3*p:3*p+3], x, k)
	}
	return out
}

// sigmoid64 is the logistic function in float64.
func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
