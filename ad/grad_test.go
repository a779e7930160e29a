package ad_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	img := func(n, h, w, c int) *tensor.Tensor { return testutil.Uniform(r, -1, 1, n, h, w, c) }
	pos := func(shape ...int) *tensor.Tensor { return testutil.Uniform(r, 0.5, 2, shape...) }
	// away from kinks at 0: values in ±[0.1, 1]
	nz := func(shape ...int) *tensor.Tensor {
		x := testutil.Uniform(r, 0.1, 1, shape...)
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
	cases := []testutil.GradCase{
		{Name: "swish", Inputs: []*tensor.Tensor{testutil.Uniform(r, -3, 3, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Swish(x[0]) }},
		{Name: "elu", Inputs: []*tensor.Tensor{nz(2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.ELU(x[0]) }},
		{Name: "relu", Inputs: []*tensor.Tensor{nz(2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.ReLU(x[0]) }},
		{Name: "sigmoid", Inputs: []*tensor.Tensor{testutil.Uniform(r, -3, 3, 7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sigmoid(x[0]) }},
		{Name: "tanh", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Tanh(x[0]) }},
		{Name: "softplus", Inputs: []*tensor.Tensor{testutil.Uniform(r, -4, 4, 9)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Softplus(x[0]) }},
		{Name: "exp", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Exp(x[0]) }},
		{Name: "log", Inputs: []*tensor.Tensor{pos(7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Log(x[0]) }},
		{Name: "square", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Square(x[0]) }},
		{Name: "sqrt", Inputs: []*tensor.Tensor{pos(7)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sqrt(x[0]) }},
		{Name: "abs", Inputs: []*tensor.Tensor{nz(9)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Abs(x[0]) }},
		{Name: "scale+addscalar+neg", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Neg(tp.AddScalar(tp.Scale(x[0], 0.3), 2))
		}},
		{Name: "clamp", Inputs: []*tensor.Tensor{nz(11)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Clamp(x[0], -0.5, 0.6) }, Eps: 1e-3},
		{Name: "softclamp", Inputs: []*tensor.Tensor{testutil.Uniform(r, -9, 9, 11)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.SoftClamp(x[0], 5) }},
		{Name: "add same", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3), testutil.Uniform(r, -1, 1, 2, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Add(x[0], x[1]) }},
		{Name: "add channels", Inputs: []*tensor.Tensor{img(2, 3, 2, 4), testutil.Uniform(r, -1, 1, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Add(x[0], x[1]) }},
		{Name: "sub scalar", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3), testutil.Uniform(r, -1, 1)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sub(x[0], x[1]) }},
		{Name: "sub scalar left", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 1), testutil.Uniform(r, -1, 1, 2, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sub(x[0], x[1]) }},
		{Name: "mul SE-like", Inputs: []*tensor.Tensor{img(2, 3, 2, 4), testutil.Uniform(r, -1, 1, 2, 1, 1, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Mul(x[0], x[1]) }},
		{Name: "div per-row", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 3, 2, 2, 2), pos(3, 1, 1, 1)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Div(x[0], x[1]) }},
		{Name: "maximum", Inputs: []*tensor.Tensor{distinct(3, 4), distinct(4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Maximum(x[0], x[1]) }, Eps: 1e-3},
		{Name: "minimum", Inputs: []*tensor.Tensor{distinct(3, 4), distinct(3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Minimum(x[0], x[1]) }, Eps: 1e-3},
		{Name: "where", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 6), testutil.Uniform(r, -1, 1, 6)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Where(tensor.FromData([]float32{1, 0, 0, 1, 1, 0}, 6), x[0], x[1])
		}},
		{Name: "sum all", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sum(x[0], false) }},
		{Name: "sum axes keep", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Sum(x[0], true, 0, 2) }},
		{Name: "mean axis", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Mean(x[0], false, -1) }},
		{Name: "max axis", Inputs: []*tensor.Tensor{distinct(3, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Max(x[0], false, 1) }, Eps: 1e-3},
		{Name: "max all", Inputs: []*tensor.Tensor{distinct(3, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Max(x[0], false) }, Eps: 1e-3},
		{Name: "logsumexp", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.LogSumExp(x[0], 1, false) }},
		{Name: "logsoftmax", Inputs: []*tensor.Tensor{testutil.Uniform(r, -2, 2, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.LogSoftmax(x[0], 1) }},
		{Name: "gap", Inputs: []*tensor.Tensor{img(2, 3, 2, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.GlobalAvgPool(x[0]) }},
		{Name: "reshape+permute", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Permute(tp.Reshape(x[0], 6, 4), 1, 0)
		}},
		{Name: "permute4", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 2, 3, 4, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.Permute(x[0], 0, 3, 1, 2) }},
		{Name: "slice spatial", Inputs: []*tensor.Tensor{img(2, 5, 4, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Slice(tp.Slice(x[0], 1, 1, 5), 2, 1, 4)
		}},
		{Name: "concat+split", Inputs: []*tensor.Tensor{img(2, 3, 2, 3), img(2, 3, 2, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			c := tp.Concat(3, x[0], x[1])
			p := tp.Split(c, 3, 1, 4)
			return tp.Mul(p[0], p[1])
		}},
		{Name: "broadcastto", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 3, 2, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.BroadcastTo(x[0], 2, 3, 2, 4) }},
		{Name: "linear", Inputs: []*tensor.Tensor{testutil.Uniform(r, -1, 1, 3, 5), testutil.Uniform(r, -1, 1, 4, 5), testutil.Uniform(r, -1, 1, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Linear(x[0], x[1], x[2])
		}},
		{Name: "conv3x3 pad1 bias", Inputs: []*tensor.Tensor{img(2, 5, 4, 3), testutil.Uniform(r, -1, 1, 4, 3, 3, 3), testutil.Uniform(r, -1, 1, 4)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], x[2], ad.ConvOpts{Pad: 1})
		}},
		{Name: "conv3x3 stride2 dil2", Inputs: []*tensor.Tensor{img(1, 7, 6, 2), testutil.Uniform(r, -1, 1, 3, 3, 3, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Stride: 2, Pad: 2, Dilation: 2})
		}},
		{Name: "conv grouped", Inputs: []*tensor.Tensor{img(2, 4, 4, 4), testutil.Uniform(r, -1, 1, 6, 3, 3, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Pad: 1, Groups: 2})
		}},
		{Name: "conv depthwise 5x5", Inputs: []*tensor.Tensor{img(2, 5, 5, 3), testutil.Uniform(r, -1, 1, 3, 5, 5, 1)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], nil, ad.ConvOpts{Pad: 2, Groups: 3})
		}},
		{Name: "conv1x1 swish", Inputs: []*tensor.Tensor{img(2, 3, 4, 3), testutil.Uniform(r, -1, 1, 5, 1, 1, 3), testutil.Uniform(r, -1, 1, 5)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2DSwish(x[0], x[1], x[2], ad.ConvOpts{})
		}},
		{Name: "upsample + depthwise 5x5 swish", Inputs: []*tensor.Tensor{img(2, 2, 3, 3), testutil.Uniform(r, -1, 1, 3, 5, 5, 1), testutil.Uniform(r, -1, 1, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.UpsampleConv2D(x[0], x[1], x[2], ad.ConvOpts{Pad: 2, Groups: 3}, true)
		}},
		{Name: "inverted residual up", Inputs: []*tensor.Tensor{img(2, 2, 2, 3), testutil.Uniform(r, -1, 1, 6, 1, 1, 3), testutil.Uniform(r, -1, 1, 6),
			testutil.Uniform(r, -1, 1, 6, 5, 5, 1), testutil.Uniform(r, -1, 1, 6), testutil.Uniform(r, -1, 1, 2, 1, 1, 6)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.InvertedResidual(x[0], ad.ConvArgs{W: x[1], B: x[2]}, ad.ConvArgs{W: x[3], B: x[4], Opts: ad.ConvOpts{Pad: 2, Groups: 6}},
				ad.ConvArgs{W: x[5]}, true)
		}},
		{Name: "conv1x1 stride2", Inputs: []*tensor.Tensor{img(2, 5, 5, 3), testutil.Uniform(r, -1, 1, 2, 1, 1, 3), testutil.Uniform(r, -1, 1, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			return tp.Conv2D(x[0], x[1], x[2], ad.ConvOpts{Stride: 2})
		}},
		{Name: "batchnorm train", Inputs: []*tensor.Tensor{img(3, 2, 2, 3), testutil.Uniform(r, 0.5, 1.5, 3), testutil.Uniform(r, -1, 1, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			y, _ := tp.BatchNormTrain(x[0], x[1], x[2], ad.BatchNormOpts{Eps: 1e-5})
			return y
		}},
		{Name: "bnswish train", Inputs: []*tensor.Tensor{img(3, 2, 2, 3), testutil.Uniform(r, 0.5, 1.5, 3), testutil.Uniform(r, -1, 1, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			y, _ := tp.BatchNormTrain(x[0], x[1], x[2], ad.BatchNormOpts{Eps: 1e-5, Swish: true})
			return y
		}},
		{Name: "bnswish eval", Inputs: []*tensor.Tensor{img(3, 2, 2, 3), testutil.Uniform(r, 0.5, 1.5, 3), testutil.Uniform(r, -1, 1, 3)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var {
			rm := []float32{0.1, -0.2, 0.3}
			rv := []float32{0.5, 1.5, 2}
			return tp.BatchNormEval(x[0], x[1], x[2], rm, rv, ad.BatchNormOpts{Eps: 1e-5, Swish: true})
		}},
		{Name: "upsample nearest", Inputs: []*tensor.Tensor{img(2, 2, 3, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.UpsampleNearest2x(x[0]) }},
		{Name: "upsample bilinear", Inputs: []*tensor.Tensor{img(2, 3, 2, 2)}, F: func(tp *ad.Tape, x []*ad.Var) *ad.Var { return tp.UpsampleBilinear2x(x[0]) }},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { testutil.CheckGrad(t, c) })
	}
}

func TestDetachStopsGradient(t *testing.T) {
	x := ad.NewParam(tensor.FromData([]float32{1, -2, 3}, 3))
	tp := ad.NewTape()
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
	x := ad.Const(tensor.FromData([]float32{0, 3, 6, 9}, 1, 2, 2, 1))
	tp := ad.NewNoGradTape()
	defer tp.Release()
	y := tp.UpsampleBilinear2x(x).Data()
	want := []float32{0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9}
	for i := range want {
		if math.Abs(float64(y[i]-want[i])) > 1e-6 {
			t.Fatalf("bilinear = %v, want %v", y, want)
		}
	}
}

// TestBatchNormTrainStats checks the statistics a training-mode batch norm returns
// and normalises with.
func TestBatchNormTrainStats(t *testing.T) {
	// channel 0 holds 1,2,3,4: mean 2.5, biased var 1.25.
	x := ad.Const(tensor.FromData([]float32{1, 0, 2, 0, 3, 0, 4, 0}, 4, 2))
	g := ad.Const(tensor.FromData([]float32{1, 1}, 2))
	b := ad.Const(tensor.FromData([]float32{0, 0}, 2))
	tp := ad.NewNoGradTape()
	defer tp.Release()
	out, st := tp.BatchNormTrain(x, g, b, ad.BatchNormOpts{Eps: 1e-5})
	if st.Count != 4 || st.Mean[0] != 2.5 || st.Var[0] != 1.25 || st.Mean[1] != 0 || st.Var[1] != 0 {
		t.Errorf("statistics %+v, want count 4, mean [2.5 0], var [1.25 0]", st)
	}
	want := (1 - 2.5) / math.Sqrt(1.25+1e-5)
	if d := math.Abs(float64(out.Data()[0]) - want); d > 1e-5 {
		t.Errorf("normalised %v, want %v", out.Data()[0], want)
	}
}
