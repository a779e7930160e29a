// Package dist: TEMPORARY stub written by the model branch until branch dist lands (delete
// this file at merge time). It follows the API in MODEL_API.md.
package dist

import (
	"math"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// Normal is NVAE's diagonal Gaussian.
type Normal struct{ Mu, Sigma *ad.Var }

// NewNormal builds mu = 5·tanh(muRaw/5), sigma = exp(5·tanh(logSigRaw/5)) + 0.01 (·temp).
func NewNormal(tp *ad.Tape, muRaw, logSigRaw *ad.Var, temp float32) Normal {
	mu := tp.SoftClamp(muRaw, 5)
	sig := tp.AddScalar(tp.Exp(tp.SoftClamp(logSigRaw, 5)), 0.01)
	if temp != 1 {
		sig = tp.Scale(sig, temp)
	}
	return Normal{Mu: mu, Sigma: sig}
}

// StdNormal is Normal(0,0): mu 0, sigma 1.01·temp.
func StdNormal(tp *ad.Tape, temp float32, shape ...int) Normal {
	z := ad.Const(tensor.New(shape...))
	return NewNormal(tp, z, z, temp)
}

// Sample is eps·sigma + mu.
func (n Normal) Sample(tp *ad.Tape, eps *tensor.Tensor) *ad.Var {
	return tp.Add(tp.Mul(ad.Const(eps), n.Sigma), n.Mu)
}

// LogP is the elementwise log density.
func (n Normal) LogP(tp *ad.Tape, z *ad.Var) *ad.Var {
	e := tp.Div(tp.Sub(z, n.Mu), n.Sigma)
	a := tp.Scale(tp.Mul(e, e), -0.5)
	a = tp.AddScalar(a, float32(-0.5*math.Log(2*math.Pi)))
	return tp.Sub(a, tp.Log(n.Sigma))
}

// KL is elementwise KL(n‖p).
func (n Normal) KL(tp *ad.Tape, p Normal) *ad.Var {
	t1 := tp.Div(tp.Sub(n.Mu, p.Mu), p.Sigma)
	t2 := tp.Div(n.Sigma, p.Sigma)
	a := tp.Scale(tp.Add(tp.Mul(t1, t1), tp.Mul(t2, t2)), 0.5)
	return tp.Sub(tp.AddScalar(a, -0.5), tp.Log(t2))
}

// Decoder is the image likelihood.
type Decoder interface {
	LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var
	Mean() *tensor.Tensor
	Sample(rng *rand.Rand, t float32) *tensor.Tensor
}

type bern struct{ l *ad.Var }

// NewBernoulli returns the Bernoulli decoder.
func NewBernoulli(logits *ad.Var) Decoder { return bern{logits} }

func (b bern) LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var {
	return tp.Sub(tp.Mul(ad.Const(x), b.l), tp.Softplus(b.l))
}
func (b bern) Mean() *tensor.Tensor {
	t := tensor.New(b.l.Shape()...)
	for i, v := range b.l.Data() {
		t.Data()[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return t
}
func (b bern) Sample(rng *rand.Rand, t float32) *tensor.Tensor { panic("dist stub") }

type dml struct {
	l       *ad.Var
	m, bits int
}

// NewDiscMixLogistic returns the DML decoder.
func NewDiscMixLogistic(tp *ad.Tape, logits *ad.Var, numMix, numBits int) Decoder {
	return dml{logits, numMix, numBits}
}

func (d dml) LogProb(tp *ad.Tape, x *tensor.Tensor) *ad.Var {
	M := d.m
	maxv := float32(int(1)<<d.bits - 1)
	s := x.Shape()
	B, H, W := s[0], s[1], s[2]
	ys := make([]*ad.Var, 3)
	for c := 0; c < 3; c++ {
		t := tensor.New(B, H, W, 1)
		for i := 0; i < B*H*W; i++ {
			t.Data()[i] = 2*x.Data()[i*3+c] - 1
		}
		ys[c] = ad.Const(t)
	}
	sl := func(a int) *ad.Var { return tp.Slice(d.l, 3, a, a+M) }
	logit := sl(0)
	mu := func(c int) *ad.Var { return sl(M + 3*M*c) }
	lsc := func(c int) *ad.Var {
		return tp.Maximum(sl(M+3*M*c+M), ad.Const(tensor.Scalar(-7)))
	}
	k := func(c int) *ad.Var { return tp.Tanh(sl(M + 3*M*c + 2*M)) }
	means := []*ad.Var{mu(0), tp.Add(mu(1), tp.Mul(k(0), ys[0])), tp.Add(tp.Add(mu(2), tp.Mul(k(1), ys[0])), tp.Mul(k(2), ys[1]))}
	var total *ad.Var
	for c := 0; c < 3; c++ {
		ls := lsc(c)
		cen := tp.Sub(ys[c], means[c])
		inv := tp.Exp(tp.Neg(ls))
		plus := tp.Mul(inv, tp.AddScalar(cen, 1/maxv))
		minus := tp.Mul(inv, tp.AddScalar(cen, -1/maxv))
		cdfPlus := tp.Sigmoid(plus)
		cdfMin := tp.Sigmoid(minus)
		logCdfPlus := tp.Sub(plus, tp.Softplus(plus))
		log1m := tp.Neg(tp.Softplus(minus))
		delta := tp.Sub(cdfPlus, cdfMin)
		mid := tp.Mul(inv, cen)
		logPdfMid := tp.Sub(tp.Sub(mid, ls), tp.Scale(tp.Softplus(mid), 2))
		n := delta.Value.Len()
		cond := tensor.New(delta.Shape()...)
		for i, v := range delta.Data() {
			if v > 1e-5 {
				cond.Data()[i] = 1
			}
		}
		safe := tp.Where(cond, tp.Log(tp.Clamp(delta, 1e-10, float32(math.Inf(1)))), tp.AddScalar(logPdfMid, -float32(math.Log(float64(maxv)/2))))
		lo, hi := tensor.New(delta.Shape()...), tensor.New(delta.Shape()...)
		yd := ys[c].Data()
		for i := 0; i < n; i++ {
			y := yd[i/M]
			if y < -0.999 {
				lo.Data()[i] = 1
			}
			if y > 0.99 {
				hi.Data()[i] = 1
			}
		}
		lp := tp.Where(lo, logCdfPlus, tp.Where(hi, log1m, safe))
		if total == nil {
			total = lp
		} else {
			total = tp.Add(total, lp)
		}
	}
	total = tp.Add(total, tp.LogSoftmax(logit, 3))
	return tp.LogSumExp(total, 3, false)
}
func (d dml) Mean() *tensor.Tensor                            { panic("dist stub") }
func (d dml) Sample(rng *rand.Rand, t float32) *tensor.Tensor { panic("dist stub") }

// NewNormalDecoder is not implemented in the stub.
func NewNormalDecoder(tp *ad.Tape, logits *ad.Var) Decoder { panic("dist stub") }

// KLBalance implements spec §5.3.
func KLBalance(tp *ad.Tape, klAll []*ad.Var, klCoeff float32, alpha []float32) (*ad.Var, []float32, []float32) {
	G := len(klAll)
	B := klAll[0].Value.Len()
	vals := make([]float32, G)
	coeffs := make([]float32, G)
	for l, k := range klAll {
		var s, a float32
		for _, v := range k.Data() {
			s += v
			a += float32(math.Abs(float64(v)))
		}
		vals[l] = s / float32(B)
		coeffs[l] = a/float32(B) + 0.01
	}
	if klCoeff < 1 {
		var tot float32
		for _, c := range coeffs {
			tot += c
		}
		var mean float32
		for l := range coeffs {
			coeffs[l] = coeffs[l] / alpha[l] * tot
			mean += coeffs[l]
		}
		mean /= float32(G)
		for l := range coeffs {
			coeffs[l] /= mean
		}
	} else {
		for l := range coeffs {
			coeffs[l] = 1
		}
	}
	var sum *ad.Var
	for l, k := range klAll {
		t := tp.Scale(k, coeffs[l])
		if sum == nil {
			sum = t
		} else {
			sum = tp.Add(sum, t)
		}
	}
	return tp.Scale(sum, klCoeff), coeffs, vals
}
