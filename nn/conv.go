package nn

// The layers NVAE is built from: weight-normalised and masked convolutions, batch
// normalisation (optionally fused with Swish), linear layers and squeeze-and-excitation.
// Layers own their parameters as ad.Var leaves; package model names and registers them.

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// Conv is NVAE's Conv2D wrapper: an OHWI convolution with optional bias, optional weight
// normalisation (w_eff = exp(LogWN)·w/(‖w‖+1e-5) per output channel), an optional constant
// autoregressive mask applied to w before the normalisation (ARConv2d) and optional
// data-dependent initialisation (res_elu).
type Conv struct {
	W     *ad.Var // [Cout, KH, KW, Cin/groups]
	B     *ad.Var // [Cout] or nil
	LogWN *ad.Var // [Cout, 1, 1, 1] or nil (no weight normalisation)
	Opts  ad.ConvOpts
	// Mask is the constant OHWI mask of a masked (autoregressive) convolution, or nil.
	Mask *tensor.Tensor
	// DataInit selects the data-dependent initialisation on the first forward pass.
	DataInit bool
	initDone bool
}

// ConvSpec describes a convolution layer for NewConv.
type ConvSpec struct {
	In, Out int // channels
	Kernel  int // square kernel side
	Opts    ad.ConvOpts
	// Bias adds a learned bias; WeightNorm normalises each output channel's weights
	// (w_eff = exp(LogWN)·w/(‖w‖+1e-5)).
	Bias, WeightNorm bool
	// Mask is the constant OHWI mask of an autoregressive convolution, or nil.
	Mask *tensor.Tensor
}

// NewConv returns a convolution with PyTorch's default initialisation (weights and bias
// U(−1/√fan_in, 1/√fan_in)); with weight normalisation, LogWN = ln(‖w⊙mask‖ + 0.01).
func NewConv(rng *rand.Rand, s ConvSpec) *Conv {
	cin, cout, k, o, mask := s.In, s.Out, s.Kernel, s.Opts, s.Mask
	g := max(o.Groups, 1)
	if cin%g != 0 || cout%g != 0 {
		panic(fmt.Sprintf("nn.NewConv: %d→%d channels with %d groups", cin, cout, g))
	}
	fanIn := cin / g * k * k
	bound := float32(1 / math.Sqrt(float64(fanIn)))
	w := tensor.New(cout, k, k, cin/g)
	uniform(rng, w.Data(), bound)
	c := &Conv{W: ad.NewParam(w), Opts: o, Mask: mask}
	if s.Bias {
		b := tensor.New(cout)
		uniform(rng, b.Data(), bound)
		c.B = ad.NewParam(b)
	}
	if s.WeightNorm {
		l := tensor.New(cout, 1, 1, 1)
		n := c.rowNorms(c.maskedData())
		for i := range n {
			l.Data()[i] = float32(math.Log(float64(n[i]) + 1e-2))
		}
		c.LogWN = ad.NewParam(l)
	}
	return c
}

func uniform(rng *rand.Rand, d []float32, bound float32) {
	for i := range d {
		d[i] = (2*rng.Float32() - 1) * bound
	}
}

func (c *Conv) maskedData() []float32 {
	w := c.W.Data()
	if c.Mask == nil {
		return w
	}
	m := c.Mask.Data()
	out := make([]float32, len(w))
	for i := range w {
		out[i] = w[i] * m[i]
	}
	return out
}

func (c *Conv) rowNorms(w []float32) []float32 {
	cout := c.W.Shape()[0]
	per := len(w) / cout
	n := make([]float32, cout)
	for o := range n {
		s := 0.0
		for _, v := range w[o*per : (o+1)*per] {
			s += float64(v) * float64(v)
		}
		n[o] = float32(math.Sqrt(s))
	}
	return n
}

// Cout is the number of output channels.
func (c *Conv) Cout() int { return c.W.Shape()[0] }

// Weight computes the effective weight on tp (masking and weight normalisation).
func (c *Conv) Weight(tp *ad.Tape) *ad.Var {
	switch {
	case c.LogWN != nil:
		return WeightNorm(tp, c.W, c.LogWN, c.Mask)
	case c.Mask != nil:
		return tp.Mul(c.W, ad.Const(c.Mask))
	}
	return c.W
}

// EffectiveWeight returns the effective weight of this pass: computed once per tape (and
// shared with the segments recomputed on it, see ad.Tape.Memo), so the forward pass and
// the spectral regulariser use the same value, and a released tape's value is never
// reused.
func (c *Conv) EffectiveWeight(tp *ad.Tape) *ad.Var {
	return tp.Memo(c, func() *ad.Var { return c.Weight(tp) })
}

// NeedsDataInit reports whether the next forward pass runs the data-dependent
// initialisation (which changes the weights).
func (c *Conv) NeedsDataInit() bool { return c.DataInit && !c.initDone }

// Forward applies the convolution to NHWC x with the pass's effective weight
// (EffectiveWeight).
func (c *Conv) Forward(tp *ad.Tape, x *ad.Var) *ad.Var {
	if c.NeedsDataInit() {
		c.dataInit(x.Value)
		tp.Forget(c) // the weights changed
	}
	return tp.Conv2D(x, c.EffectiveWeight(tp), c.B, c.Opts)
}

// ResetDataInit makes the next forward pass redo the data-dependent initialisation (the flag
// is not saved in checkpoints, so the official code re-runs it after loading).
func (c *Conv) ResetDataInit() { c.initDone = false }

// dataInit sets bias = −mean/(5·std + 1e-5) and LogWN = −ln(5·std + 1e-5) from the output of the
// convolution with unit-norm weights on x (per channel over N, H, W; unbiased std).
func (c *Conv) dataInit(x *tensor.Tensor) {
	c.initDone = true
	if c.LogWN == nil {
		return
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	w := c.maskedData()
	n := c.rowNorms(w)
	cout := c.Cout()
	per := len(w) / cout
	wn := tensor.New(c.W.Shape()...)
	for o := 0; o < cout; o++ {
		for j := 0; j < per; j++ {
			wn.Data()[o*per+j] = w[o*per+j] / (n[o] + 1e-5)
		}
	}
	out := tp.Conv2D(ad.Const(x), ad.Const(wn), nil, c.Opts).Data()
	m := len(out) / cout
	for o := 0; o < cout; o++ {
		s, q := 0.0, 0.0
		for i := 0; i < m; i++ {
			s += float64(out[i*cout+o])
		}
		mean := s / float64(m)
		for i := 0; i < m; i++ {
			d := float64(out[i*cout+o]) - mean
			q += d * d
		}
		st := 5 * math.Sqrt(q/float64(max(m-1, 1)))
		if c.B != nil {
			c.B.Data()[o] = float32(-mean / (st + 1e-5))
		}
		c.LogWN.Data()[o] = float32(-math.Log(st + 1e-5))
	}
}

// ARMask builds the OHWI mask of the official ARConv2d (docs/model.md#flows) for a k×k convolution with cin
// inputs, cout outputs and the given groups: taps above the centre row and left of the centre
// are 1, the centre tap carries the channel mask (strictly lower with zeroDiag), the rest is 0.
// mirror flips the mask in both spatial axes.
func ARMask(cin, cout, k, groups int, zeroDiag, mirror bool) *tensor.Tensor {
	cg := cin / groups
	m := tensor.New(cout, k, k, cg)
	d := m.Data()
	mid := (k - 1) / 2
	for o := 0; o < cout; o++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				for ci := 0; ci < cg; ci++ {
					var v float32
					switch {
					case ky < mid, ky == mid && kx < mid:
						v = 1
					case ky == mid && kx == mid:
						v = centreMask(cin, cout, groups, o, ci, zeroDiag)
					}
					sy, sx := ky, kx
					if mirror {
						sy, sx = k-1-ky, k-1-kx
					}
					d[((o*k+sy)*k+sx)*cg+ci] = v
				}
			}
		}
	}
	return m
}

func centreMask(cin, cout, groups, o, j int, zeroDiag bool) float32 {
	b := func(ok bool) float32 {
		if ok {
			return 1
		}
		return 0
	}
	if groups > 1 {
		if groups != cin {
			panic("nn.ARMask: grouped masks are only defined for depthwise convolutions")
		}
		return b(!zeroDiag)
	}
	if cout >= cin {
		r := cout / cin
		i := o / r
		if zeroDiag {
			return b(j < i)
		}
		return b(j <= i)
	}
	r := cin / cout
	if zeroDiag {
		return b(j < o*r)
	}
	return b(j < (o+1)*r)
}
