package ad

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// randT returns a tensor of uniform values in [lo, hi).
func randT(r *rand.Rand, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

// gradCase is one finite-difference gradient check: f builds a result from the
// inputs on a tape; the test compares d(Σ r·f)/d(input) from Backward against
// central differences evaluated in float64.
type gradCase struct {
	name   string
	inputs []*tensor.Tensor
	f      func(tp *Tape, x []*Var) *Var
	eps    float64 // finite-difference step (default 1e-2)
	tol    float64 // |ana − num| ≤ tol·(1 + |num|) (default 2e-3)
}

func runGradCase(t *testing.T, c gradCase) {
	t.Helper()
	eps, tol := c.eps, c.tol
	if eps == 0 {
		eps = 1e-2
	}
	if tol == 0 {
		tol = 2e-3
	}
	rng := rand.New(rand.NewPCG(7, 11))
	params := make([]*Var, len(c.inputs))
	for i, in := range c.inputs {
		params[i] = NewParam(in)
	}
	tp := NewTape()
	out := c.f(tp, params)
	weights := randT(rng, -1, 1, out.Shape()...)
	tp.BackwardWith(out, weights)
	tp.Release()
	eval := func() float64 {
		tp := NewNoGradTape()
		defer tp.Release()
		xs := make([]*Var, len(c.inputs))
		for i, in := range c.inputs {
			xs[i] = Const(in)
		}
		o := c.f(tp, xs)
		s := 0.0
		for i, v := range o.Data() {
			s += float64(v) * float64(weights.Data()[i])
		}
		return s
	}
	for k, in := range c.inputs {
		d := in.Data()
		for i := range d {
			orig := d[i]
			d[i] = orig + float32(eps)
			fp := eval()
			d[i] = orig - float32(eps)
			fm := eval()
			d[i] = orig
			h := float64(orig+float32(eps)) - float64(orig-float32(eps))
			num := (fp - fm) / h
			ana := float64(params[k].Grad.Data()[i])
			if math.Abs(ana-num) > tol*(1+math.Abs(num)) || math.IsNaN(ana) {
				t.Errorf("%s: input %d element %d: backward %.6g, finite difference %.6g", c.name, k, i, ana, num)
				return
			}
		}
	}
}

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	img := func(n, h, w, c int) *tensor.Tensor { return randT(r, -1, 1, n, h, w, c) }
	pos := func(shape ...int) *tensor.Tensor { return randT(r, 0.5, 2, shape...) }
	// away from kinks at 0: values in ±[0.1, 1]
	nz := func(shape ...int) *tensor.Tensor {
		x := randT(r, 0.1, 1, shape...)
		for i := range x.Data() {
			if r.IntN(2) == 0 {
				x.Data()[i] = -x.Data()[i]
			}
		}
		return x
	}
	distinct := func(shape ...int) *tensor.Tensor { // well-separated values, no ties
		x := tensor.New(shape...)
		for i, p := range r.Perm(x.Len()) {
			x.Data()[i] = float32(p)*0.1 - 1
		}
		return x
	}
	cases := []gradCase{
		{name: "swish", inputs: []*tensor.Tensor{randT(r, -3, 3, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Swish(x[0]) }},
		{name: "elu", inputs: []*tensor.Tensor{nz(2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.ELU(x[0]) }},
		{name: "relu", inputs: []*tensor.Tensor{nz(2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.ReLU(x[0]) }},
		{name: "sigmoid", inputs: []*tensor.Tensor{randT(r, -3, 3, 7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sigmoid(x[0]) }},
		{name: "tanh", inputs: []*tensor.Tensor{randT(r, -2, 2, 7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Tanh(x[0]) }},
		{name: "softplus", inputs: []*tensor.Tensor{randT(r, -4, 4, 9)}, f: func(tp *Tape, x []*Var) *Var { return tp.Softplus(x[0]) }},
		{name: "exp", inputs: []*tensor.Tensor{randT(r, -2, 2, 7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Exp(x[0]) }},
		{name: "log", inputs: []*tensor.Tensor{pos(7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Log(x[0]) }},
		{name: "square", inputs: []*tensor.Tensor{randT(r, -2, 2, 7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Square(x[0]) }},
		{name: "sqrt", inputs: []*tensor.Tensor{pos(7)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sqrt(x[0]) }},
		{name: "abs", inputs: []*tensor.Tensor{nz(9)}, f: func(tp *Tape, x []*Var) *Var { return tp.Abs(x[0]) }},
		{name: "scale+addscalar+neg", inputs: []*tensor.Tensor{randT(r, -2, 2, 5)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Neg(tp.AddScalar(tp.Scale(x[0], 0.3), 2))
		}},
		{name: "clamp", inputs: []*tensor.Tensor{nz(11)}, f: func(tp *Tape, x []*Var) *Var { return tp.Clamp(x[0], -0.5, 0.6) }, eps: 1e-3},
		{name: "softclamp", inputs: []*tensor.Tensor{randT(r, -9, 9, 11)}, f: func(tp *Tape, x []*Var) *Var { return tp.SoftClamp(x[0], 5) }},
		{name: "add same", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3), randT(r, -1, 1, 2, 3)}, f: func(tp *Tape, x []*Var) *Var { return tp.Add(x[0], x[1]) }},
		{name: "add channels", inputs: []*tensor.Tensor{img(2, 3, 2, 4), randT(r, -1, 1, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Add(x[0], x[1]) }},
		{name: "sub scalar", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3), randT(r, -1, 1)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sub(x[0], x[1]) }},
		{name: "sub scalar left", inputs: []*tensor.Tensor{randT(r, -1, 1, 1), randT(r, -1, 1, 2, 3)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sub(x[0], x[1]) }},
		{name: "mul SE-like", inputs: []*tensor.Tensor{img(2, 3, 2, 4), randT(r, -1, 1, 2, 1, 1, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Mul(x[0], x[1]) }},
		{name: "div per-row", inputs: []*tensor.Tensor{randT(r, -1, 1, 3, 2, 2, 2), pos(3, 1, 1, 1)}, f: func(tp *Tape, x []*Var) *Var { return tp.Div(x[0], x[1]) }},
		{name: "maximum", inputs: []*tensor.Tensor{distinct(3, 4), distinct(4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Maximum(x[0], x[1]) }, eps: 1e-3},
		{name: "minimum", inputs: []*tensor.Tensor{distinct(3, 4), distinct(3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Minimum(x[0], x[1]) }, eps: 1e-3},
		{name: "where", inputs: []*tensor.Tensor{randT(r, -1, 1, 6), randT(r, -1, 1, 6)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Where(tensor.FromData([]float32{1, 0, 0, 1, 1, 0}, 6), x[0], x[1])
		}},
		{name: "sum all", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sum(x[0], false) }},
		{name: "sum axes keep", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Sum(x[0], true, 0, 2) }},
		{name: "mean axis", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.Mean(x[0], false, -1) }},
		{name: "max axis", inputs: []*tensor.Tensor{distinct(3, 5)}, f: func(tp *Tape, x []*Var) *Var { return tp.Max(x[0], false, 1) }, eps: 1e-3},
		{name: "max all", inputs: []*tensor.Tensor{distinct(3, 5)}, f: func(tp *Tape, x []*Var) *Var { return tp.Max(x[0], false) }, eps: 1e-3},
		{name: "logsumexp", inputs: []*tensor.Tensor{randT(r, -2, 2, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.LogSumExp(x[0], 1, false) }},
		{name: "logsoftmax", inputs: []*tensor.Tensor{randT(r, -2, 2, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.LogSoftmax(x[0], 1) }},
		{name: "gap", inputs: []*tensor.Tensor{img(2, 3, 2, 5)}, f: func(tp *Tape, x []*Var) *Var { return tp.GlobalAvgPool(x[0]) }},
		{name: "reshape+permute", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3, 4)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Permute(tp.Reshape(x[0], 6, 4), 1, 0)
		}},
		{name: "permute4", inputs: []*tensor.Tensor{randT(r, -1, 1, 2, 3, 4, 5)}, f: func(tp *Tape, x []*Var) *Var { return tp.Permute(x[0], 0, 3, 1, 2) }},
		{name: "slice spatial", inputs: []*tensor.Tensor{img(2, 5, 4, 3)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Slice(tp.Slice(x[0], 1, 1, 5), 2, 1, 4)
		}},
		{name: "concat+split", inputs: []*tensor.Tensor{img(2, 3, 2, 3), img(2, 3, 2, 2)}, f: func(tp *Tape, x []*Var) *Var {
			c := tp.Concat(3, x[0], x[1])
			p := tp.Split(c, 3, 1, 4)
			return tp.Mul(p[0], p[1])
		}},
		{name: "broadcastto", inputs: []*tensor.Tensor{randT(r, -1, 1, 3, 2, 4)}, f: func(tp *Tape, x []*Var) *Var { return tp.BroadcastTo(x[0], 2, 3, 2, 4) }},
		{name: "linear", inputs: []*tensor.Tensor{randT(r, -1, 1, 3, 5), randT(r, -1, 1, 4, 5), randT(r, -1, 1, 4)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Linear(x[0], x[1], x[2])
		}},
		{name: "conv3x3 pad1 bias", inputs: []*tensor.Tensor{img(2, 5, 4, 3), randT(r, -1, 1, 4, 3, 3, 3), randT(r, -1, 1, 4)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Conv2D(x[0], x[1], x[2], ConvOpts{Pad: 1})
		}},
		{name: "conv3x3 stride2 dil2", inputs: []*tensor.Tensor{img(1, 7, 6, 2), randT(r, -1, 1, 3, 3, 3, 2)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Conv2D(x[0], x[1], nil, ConvOpts{Stride: 2, Pad: 2, Dilation: 2})
		}},
		{name: "conv grouped", inputs: []*tensor.Tensor{img(2, 4, 4, 4), randT(r, -1, 1, 6, 3, 3, 2)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Conv2D(x[0], x[1], nil, ConvOpts{Pad: 1, Groups: 2})
		}},
		{name: "conv depthwise 5x5", inputs: []*tensor.Tensor{img(2, 5, 5, 3), randT(r, -1, 1, 3, 5, 5, 1)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Conv2D(x[0], x[1], nil, ConvOpts{Pad: 2, Groups: 3})
		}},
		{name: "conv1x1 stride2", inputs: []*tensor.Tensor{img(2, 5, 5, 3), randT(r, -1, 1, 2, 1, 1, 3), randT(r, -1, 1, 2)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.Conv2D(x[0], x[1], x[2], ConvOpts{Stride: 2})
		}},
		{name: "batchnorm train", inputs: []*tensor.Tensor{img(3, 2, 2, 3), randT(r, 0.5, 1.5, 3), randT(r, -1, 1, 3)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.BatchNorm(x[0], x[1], x[2], tensor.New(3), tensor.New(3), true, 0.05, 1e-5, false)
		}},
		{name: "bnswish train", inputs: []*tensor.Tensor{img(3, 2, 2, 3), randT(r, 0.5, 1.5, 3), randT(r, -1, 1, 3)}, f: func(tp *Tape, x []*Var) *Var {
			return tp.BatchNorm(x[0], x[1], x[2], tensor.New(3), tensor.New(3), true, 0.05, 1e-5, true)
		}},
		{name: "bnswish eval", inputs: []*tensor.Tensor{img(3, 2, 2, 3), randT(r, 0.5, 1.5, 3), randT(r, -1, 1, 3)}, f: func(tp *Tape, x []*Var) *Var {
			rm := tensor.FromData([]float32{0.1, -0.2, 0.3}, 3)
			rv := tensor.FromData([]float32{0.5, 1.5, 2}, 3)
			return tp.BatchNorm(x[0], x[1], x[2], rm, rv, false, 0.05, 1e-5, true)
		}},
		{name: "upsample nearest", inputs: []*tensor.Tensor{img(2, 2, 3, 2)}, f: func(tp *Tape, x []*Var) *Var { return tp.UpsampleNearest2x(x[0]) }},
		{name: "upsample bilinear", inputs: []*tensor.Tensor{img(2, 3, 2, 2)}, f: func(tp *Tape, x []*Var) *Var { return tp.UpsampleBilinear2x(x[0]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGradCase(t, c) })
	}
}

func TestDetachStopsGradient(t *testing.T) {
	x := NewParam(tensor.FromData([]float32{1, -2, 3}, 3))
	tp := NewTape()
	defer tp.Release()
	y := tp.Sum(tp.Add(x, tp.Detach(tp.Square(x))), false)
	tp.Backward(y)
	for i, g := range x.Grad.Data() {
		if g != 1 {
			t.Fatalf("grad[%d] = %v, want 1", i, g)
		}
	}
}

func TestBilinearAlignCornersValues(t *testing.T) {
	// 1-D check along W: [0, 3] upsampled to 4 with align_corners=True gives 0,1,2,3.
	x := Const(tensor.FromData([]float32{0, 3, 6, 9}, 1, 2, 2, 1))
	tp := NewNoGradTape()
	defer tp.Release()
	y := tp.UpsampleBilinear2x(x).Data()
	want := []float32{0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9}
	for i := range want {
		if math.Abs(float64(y[i]-want[i])) > 1e-6 {
			t.Fatalf("bilinear = %v, want %v", y, want)
		}
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	// channel 0 holds 1,2,3,4: mean 2.5, biased var 1.25, unbiased 5/3.
	x := Const(tensor.FromData([]float32{1, 0, 2, 0, 3, 0, 4, 0}, 4, 2))
	g := Const(tensor.FromData([]float32{1, 1}, 2))
	b := Const(tensor.FromData([]float32{0, 0}, 2))
	rm := tensor.FromData([]float32{0, 0}, 2)
	rv := tensor.FromData([]float32{1, 1}, 2)
	tp := NewNoGradTape()
	defer tp.Release()
	y := tp.BatchNorm(x, g, b, rm, rv, true, 0.05, 1e-5, false).Data()
	if d := math.Abs(float64(rm.Data()[0]) - 0.05*2.5); d > 1e-7 {
		t.Errorf("running mean %v", rm.Data())
	}
	if d := math.Abs(float64(rv.Data()[0]) - (0.95 + 0.05*5.0/3)); d > 1e-6 {
		t.Errorf("running var %v", rv.Data())
	}
	want := (1 - 2.5) / math.Sqrt(1.25+1e-5)
	if d := math.Abs(float64(y[0]) - want); d > 1e-5 {
		t.Errorf("normalised %v, want %v", y[0], want)
	}
}
