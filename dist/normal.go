// Package dist holds NVAE's probability distributions: the diagonal Gaussian of the
// latent groups (Normal, with its soft clamps and the +0.01 on σ), the image
// decoders (Bernoulli, discretized mixture of logistics, Normal decoder) and KL
// balancing. Everything is NHWC and works on ad variables; the hot element-wise
// formulas are fused ops with hand-written backward passes.
//
// Floating-point operations follow the order of the official PyTorch code and round
// to float32 after each step, so that values match the parity fixtures closely.
package dist

import (
	"fmt"
	"math"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// grain is the smallest chunk of elements a parallel loop hands to one worker.
const grain = 1 << 12

// block is the size of the blocks inBlocks hands out: small enough to stay in L1
// across the steps of an element-wise computation, and for the vector kernels called
// on a block to run serially.
const block = 1 << 10

// inBlocks runs fn over [0, n) in blocks of at most block elements, the blocks spread
// over the workers.
func inBlocks(n int, fn func(lo, hi int)) {
	cpu.Parallel(n, grain, func(lo, hi int) {
		for b := lo; b < hi; b += block {
			fn(b, min(hi, b+block))
		}
	})
}

// halfLog2Pi is ½·ln(2π), as PyTorch rounds it to float32.
var halfLog2Pi = float32(0.5 * math.Log(2*math.Pi))

// Normal is NVAE's diagonal Gaussian built from raw network outputs:
// Mu = 5·tanh(muRaw/5) and Sigma = exp(5·tanh(logSigRaw/5)) + 0.01, then Sigma is
// multiplied by the temperature when it is not 1. Mu and Sigma have the same shape.
type Normal struct{ Mu, Sigma *ad.Var }

// NewNormal builds the Gaussian from raw mean and log-σ outputs of the same shape;
// temp scales σ after the +0.01 (temp = 1 leaves it unchanged).
func NewNormal(tp *ad.Tape, muRaw, logSigRaw *ad.Var, temp float32) Normal {
	mustSame("dist.NewNormal", muRaw.Shape(), logSigRaw.Shape())
	mu := tp.SoftClamp(muRaw, 5)
	x := logSigRaw.Data()
	n := len(x)
	// th = tanh(x/5) and e = exp(5·th), kept for the backward pass when it runs
	var th, e []float32
	if !tp.NoGrad() && logSigRaw.NeedsGrad() {
		aux := tensor.Get(2 * n)
		tp.Own(aux)
		th, e = aux.Data()[:n], aux.Data()[n:]
	}
	sig := tp.Custom(logSigRaw.Shape(), []*ad.Var{logSigRaw}, func(g []float32, grad func(int) []float32) {
		gx := grad(0)
		cpu.Parallel(len(g), grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d := e[i] * (1 - th[i]*th[i])
				if temp != 1 {
					d *= temp
				}
				gx[i] += g[i] * d
			}
		})
	})
	// σ = (e^{5·tanh(x/5)} + 0.01)·temp, block by block, the transcendental steps
	// vectorised; th and e are σ's storage when not kept
	s := sig.Data()
	if th == nil {
		th, e = s, s
	}
	inBlocks(n, func(lo, hi int) {
		t, ev := th[lo:hi], e[lo:hi]
		cpu.DivScalarF32(x[lo:hi], 5, t)
		cpu.TanhSlice(t, t)
		cpu.ScaleF32(t, 5, ev)
		cpu.ExpSlice(ev, ev)
		cpu.AddScalarF32(ev, 0.01, s[lo:hi])
		if temp != 1 {
			cpu.ScaleF32(s[lo:hi], temp, s[lo:hi])
		}
	})
	return Normal{Mu: mu, Sigma: sig}
}

// StdNormal is NVAE's Normal(0, 0) of the given shape: μ = 0 and σ = (1 + 0.01)·temp,
// the top-group prior. Both are constants.
func StdNormal(tp *ad.Tape, temp float32, shape ...int) Normal {
	mu := tensor.Get(shape...)
	tp.Own(mu)
	clear(mu.Data())
	sig := tensor.Get(shape...)
	tp.Own(sig)
	v := float32(1) + 0.01
	if temp != 1 {
		v *= temp
	}
	sig.Fill(v)
	return Normal{Mu: ad.Const(mu), Sigma: ad.Const(sig)}
}

// Sample is the reparameterised draw z = eps·σ + μ for standard-normal noise eps of
// the distribution's shape.
func (n Normal) Sample(tp *ad.Tape, eps *tensor.Tensor) *ad.Var {
	mustSame("dist.Normal.Sample", eps.Shape(), n.Mu.Shape())
	e, mu, sig := eps.Data(), n.Mu.Data(), n.Sigma.Data()
	out := tp.Custom(n.Mu.Shape(), []*ad.Var{n.Mu, n.Sigma}, func(g []float32, grad func(int) []float32) {
		gm, gs := grad(0), grad(1)
		cpu.Parallel(len(g), grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if gm != nil {
					gm[i] += g[i]
				}
				if gs != nil {
					gs[i] += g[i] * e[i]
				}
			}
		})
	})
	z := out.Data()
	cpu.Parallel(len(z), grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			z[i] = e[i]*sig[i] + mu[i]
		}
	})
	return out
}

// LogP is the element-wise log density −½((z−μ)/σ)² − ½ln(2π) − ln σ.
func (n Normal) LogP(tp *ad.Tape, z *ad.Var) *ad.Var {
	mustSame("dist.Normal.LogP", z.Shape(), n.Mu.Shape())
	zd, mu, sig := z.Data(), n.Mu.Data(), n.Sigma.Data()
	out := tp.Custom(z.Shape(), []*ad.Var{z, n.Mu, n.Sigma}, func(g []float32, grad func(int) []float32) {
		gz, gm, gs := grad(0), grad(1), grad(2)
		cpu.Parallel(len(g), grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				a := (zd[i] - mu[i]) / sig[i]
				da := g[i] * a / sig[i] // −d/dz = d/dμ
				if gz != nil {
					gz[i] -= da
				}
				if gm != nil {
					gm[i] += da
				}
				if gs != nil {
					gs[i] += g[i] * (a*a - 1) / sig[i]
				}
			}
		})
	})
	o := out.Data()
	// a = (z − μ)/σ, vectorised with the same roundings
	at := tensor.Get(len(o))
	defer tensor.Put(at)
	inBlocks(len(o), func(lo, hi int) {
		cpu.LogSlice(o[lo:hi], sig[lo:hi])
		a := at.Data()[lo:hi]
		cpu.SubF32(zd[lo:hi], mu[lo:hi], a)
		cpu.DivF32(a, sig[lo:hi], a)
		for i, ai := range a {
			o[lo+i] = -0.5*ai*ai - halfLog2Pi - o[lo+i]
		}
	})
	return out
}

// KL is the element-wise KL(n‖p) = ½(a² + r²) − ½ − ln r with a = (μ_n − μ_p)/σ_p and
// r = σ_n/σ_p.
func (n Normal) KL(tp *ad.Tape, p Normal) *ad.Var {
	mustSame("dist.Normal.KL", n.Mu.Shape(), p.Mu.Shape())
	mq, sq, mp, sp := n.Mu.Data(), n.Sigma.Data(), p.Mu.Data(), p.Sigma.Data()
	out := tp.Custom(n.Mu.Shape(), []*ad.Var{n.Mu, n.Sigma, p.Mu, p.Sigma}, func(g []float32, grad func(int) []float32) {
		gmq, gsq, gmp, gsp := grad(0), grad(1), grad(2), grad(3)
		cpu.Parallel(len(g), grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				a := (mq[i] - mp[i]) / sp[i]
				r := sq[i] / sp[i]
				da := g[i] * a / sp[i]
				if gmq != nil {
					gmq[i] += da
				}
				if gmp != nil {
					gmp[i] -= da
				}
				if gsq != nil {
					gsq[i] += g[i] * (r/sp[i] - 1/sq[i])
				}
				if gsp != nil {
					gsp[i] += g[i] * (1 - a*a - r*r) / sp[i]
				}
			}
		})
	})
	o := out.Data()
	// r = σ_n/σ_p and a = (μ_n − μ_p)/σ_p, vectorised with the same roundings
	tmp := tensor.Get(2 * len(o))
	defer tensor.Put(tmp)
	rs, as := tmp.Data()[:len(o)], tmp.Data()[len(o):]
	inBlocks(len(o), func(lo, hi int) {
		r, a := rs[lo:hi], as[lo:hi]
		cpu.DivF32(sq[lo:hi], sp[lo:hi], r)
		cpu.LogSlice(o[lo:hi], r)
		cpu.SubF32(mq[lo:hi], mp[lo:hi], a)
		cpu.DivF32(a, sp[lo:hi], a)
		for i, ai := range a {
			ri := r[i]
			o[lo+i] = 0.5*(ai*ai+ri*ri) - 0.5 - o[lo+i]
		}
	})
	return out
}

// mustSame panics when two shapes differ: mismatched sizes inside the model are
// programming errors.
func mustSame(op string, a, b []int) {
	if !tensor.SameShape(a, b) {
		panic(fmt.Sprintf("%s: shapes %v and %v differ", op, a, b))
	}
}

func exp32(x float32) float32  { return float32(math.Exp(float64(x))) }
func log32(x float32) float32  { return float32(math.Log(float64(x))) }
func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }
