package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/nn"
	"github.com/nvae-go/nvae/tensor"
)

// layout says how a state entry converts to the official (PyTorch) layout.
type layout int

const (
	layoutPlain layout = iota // same memory order
	layoutConv                // OHWI ⇄ OIHW
	layoutCHW                 // [1,H,W,C] ⇄ [C,H,W] (prior_ftr0)
)

type entryKind int

const (
	kindParam  entryKind = iota
	kindAlias            // <conv>.weight_normalized, the same tensor as <conv>.weight
	kindBuffer           // running_mean, running_var
	kindCount            // num_batches_tracked
)

// stateEntry is one official state_dict key.
type stateEntry struct {
	name   string
	kind   entryKind
	param  *ad.Var
	buf    *tensor.Tensor
	bn     *nn.BN
	layout layout
	shape  []int // official shape
}

// NamedParam is a parameter with its official name.
type NamedParam struct {
	Name string
	V    *ad.Var
}

// builder creates layers, registering their parameters and buffers in official order.
type builder struct {
	m   *Model
	rng *rand.Rand
}

func officialShape(s []int, l layout) []int {
	switch l {
	case layoutConv:
		return []int{s[0], s[3], s[1], s[2]}
	case layoutCHW:
		return []int{s[3], s[1], s[2]}
	}
	return append([]int(nil), s...)
}

func (b *builder) param(name string, v *ad.Var, l layout) {
	b.m.state = append(b.m.state, stateEntry{name: name, kind: kindParam, param: v, layout: l, shape: officialShape(v.Shape(), l)})
	b.m.params = append(b.m.params, NamedParam{Name: name, V: v})
}

// conv makes a convolution at prefix. Without weight normalisation the official code
// registers the `weight_normalized` alias.
func (b *builder) conv(prefix string, spec nn.ConvSpec) *nn.Conv {
	c := nn.NewConv(b.rng, spec)
	b.param(prefix+".weight", c.W, layoutConv)
	if spec.Bias {
		b.param(prefix+".bias", c.B, layoutPlain)
	}
	if spec.WeightNorm {
		b.param(prefix+".log_weight_norm", c.LogWN, layoutConv)
	} else {
		b.m.state = append(b.m.state, stateEntry{name: prefix + ".weight_normalized", kind: kindAlias, param: c.W,
			layout: layoutConv, shape: officialShape(c.W.Shape(), layoutConv)})
	}
	b.m.convs = append(b.m.convs, c)
	return c
}

// wnConv makes the most common convolution: in → out channels, k×k, with bias and
// weight normalisation, no mask.
func (b *builder) wnConv(prefix string, in, out, k int, o ad.ConvOpts) *nn.Conv {
	return b.conv(prefix, nn.ConvSpec{In: in, Out: out, Kernel: k, Opts: o, Bias: true, WeightNorm: true})
}

// plainConv makes a convolution without bias or weight normalisation (inside the
// inverted residual ops).
func (b *builder) plainConv(prefix string, in, out, k int, o ad.ConvOpts) *nn.Conv {
	return b.conv(prefix, nn.ConvSpec{In: in, Out: out, Kernel: k, Opts: o})
}

// bn makes a batch norm whose keys live at prefix (prefix.weight, …).
func (b *builder) bn(prefix string, c int, swish bool) *nn.BN {
	l := nn.NewBN(c, swish)
	b.param(prefix+".weight", l.Gamma, layoutPlain)
	b.param(prefix+".bias", l.Beta, layoutPlain)
	b.m.state = append(b.m.state,
		stateEntry{name: prefix + ".running_mean", kind: kindBuffer, buf: l.RunMean, shape: []int{c}},
		stateEntry{name: prefix + ".running_var", kind: kindBuffer, buf: l.RunVar, shape: []int{c}},
		stateEntry{name: prefix + ".num_batches_tracked", kind: kindCount, bn: l, shape: []int{}})
	b.m.bns = append(b.m.bns, l)
	return l
}

func (b *builder) se(prefix string, c int) *nn.SE {
	s := nn.NewSE(b.rng, c)
	b.param(prefix+".0.weight", s.L1.W, layoutPlain)
	b.param(prefix+".0.bias", s.L1.B, layoutPlain)
	b.param(prefix+".2.weight", s.L2.W, layoutPlain)
	b.param(prefix+".2.bias", s.L2.B, layoutPlain)
	return s
}

// op is one entry of a cell's main path.
type op interface {
	forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var
}

// resOp is res_bnswish, res_bnswish5, res_bnelu or res_elu: [BN] → act → [nearest up] → conv.
type resOp struct {
	bn   *nn.BN // BN+Swish (bnswish), plain BN (bnelu) or nil (elu)
	elu  bool
	up   bool
	conv *nn.Conv
}

func (o *resOp) forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var {
	in := x
	// next replaces x by y, freeing x on an inference tape unless it is the op's input
	next := func(y *ad.Var) {
		if x != in {
			tp.Free(x)
		}
		x = y
	}
	if o.bn != nil {
		next(o.bn.Forward(tp, x, train))
	}
	if o.elu {
		next(tp.ELU(x))
	}
	if o.up {
		next(tp.UpsampleNearest2x(x))
	}
	y := o.conv.Forward(tp, x)
	if o.bn != nil && !o.elu && !o.up {
		tp.Discard(x) // only the convolution reads the BN output: recompute it in backward
	}
	if x != in {
		tp.Free(x)
	}
	return y
}

// irOp is the inverted residual: [nearest up] → BN → 1×1 → BNSwish → k×k (grouped) → BNSwish
// → 1×1 → BN.
type irOp struct {
	up                  bool
	bn0, bn1, bn2, bn3  *nn.BN
	conv1, conv2, conv3 *nn.Conv
}

func (o *irOp) forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var {
	if !train && tp.Inference() {
		return o.forwardFolded(tp, x)
	}
	// Each BN output feeds only the next convolution, so it is recomputed in backward
	// instead of being kept.
	// On an inference tape every intermediate value is freed after its one reader.
	conv := func(c *nn.Conv, x *ad.Var) *ad.Var {
		y := c.Forward(tp, x)
		tp.Discard(x)
		return y
	}
	// In bf16 training each convolution output is stored in bf16 once its batch norm
	// is recorded (ad.Tape.Compact: lossless; nothing in float32).
	bn := func(b *nn.BN, x *ad.Var) *ad.Var {
		y := b.Forward(tp, x, train)
		tp.Free(x)
		tp.Compact(x)
		return y
	}
	up := x
	if o.up {
		x = tp.UpsampleNearest2x(x)
	}
	x = o.bn0.Forward(tp, x, train)
	if o.up {
		tp.Free(up)
	}
	x = bn(o.bn1, conv(o.conv1, x))
	x = bn(o.bn2, conv(o.conv2, x))
	return bn(o.bn3, conv(o.conv3, x))
}

// forwardFolded is the eval-mode forward pass with every batch norm folded into the
// convolution next to it (they are affine maps with the running statistics): bn0,
// which directly precedes the 1×1 conv1, into conv1's input side, and bn1, bn2, bn3,
// which directly follow conv1, conv2, conv3, into their output side; what remains is
// conv → Swish → conv → Swish → conv. In an upsampling op, conv1 and its Swish act on
// each pixel alone, so they commute with the nearest-neighbour upsampling in front of
// them: they run before it, on a quarter of the pixels, with the same result; the
// upsampling and the depthwise conv2 then run as one step (ad.Tape.UpsampleConv2D,
// which reads the small input with merged taps). The chain is one tape operation
// (ad.Tape.InvertedResidual), which on an inference tape keeps the intermediate
// tensors in scratch.
func (o *irOp) forwardFolded(tp *ad.Tape, x *ad.Var) *ad.Var {
	var cs [3]ad.ConvArgs
	for i := range cs {
		c, w, b := o.folded(tp, i+1)
		cs[i] = ad.ConvArgs{W: w, B: b, Opts: c.Opts}
	}
	return tp.InvertedResidual(x, cs[0], cs[1], cs[2], o.up)
}

// foldKey names the folded weight and bias of convolution i of an inverted residual
// op (see irOp.folded).
type foldKey struct {
	o *irOp
	i int
}

// folded returns convolution i (1, 2 or 3) of o with the eval-mode batch norms next to
// it folded in (see forwardFolded), as constants: the convolution, its OHWI weight and
// its bias. They are computed once per tape (ad.Tape.Memo, which also finds those
// prepared on a shared tape by PrepareInference) in float64 from the weights and the
// running statistics of that moment.
func (o *irOp) folded(tp *ad.Tape, i int) (c *nn.Conv, w, b *ad.Var) {
	c = [...]*nn.Conv{nil, o.conv1, o.conv2, o.conv3}[i]
	shape := c.W.Shape()
	k := shape[0]
	per := c.W.Value.Len() / k
	packed := tp.Memo(foldKey{o, i}, func() *ad.Var {
		src := c.EffectiveWeight(tp).Data()
		a, sh := bnAffine([...]*nn.BN{nil, o.bn1, o.bn2, o.bn3}[i])
		var a0, c0 []float64
		if i == 1 { // bn0 feeds the 1×1 conv1 directly: per input channel j
			a0, c0 = bnAffine(o.bn0)
		}
		t := tensor.Get(k*per + k)
		tp.Own(t)
		d := t.Data()
		for oc := 0; oc < k; oc++ {
			bias := 0.0
			for j := 0; j < per; j++ {
				v := float64(src[oc*per+j])
				if a0 != nil {
					bias += v * c0[j]
					v *= a0[j]
				}
				d[oc*per+j] = float32(a[oc] * v)
			}
			d[k*per+oc] = float32(a[oc]*bias + sh[oc])
		}
		return ad.Const(t)
	})
	d := packed.Data()
	return c, ad.Const(tensor.FromData(d[:k*per], shape...)), ad.Const(tensor.FromData(d[k*per:], k))
}

// bnAffine writes an eval-mode batch norm as the per-channel affine map a·x + c.
func bnAffine(b *nn.BN) (a, c []float64) {
	g, be := b.Gamma.Data(), b.Beta.Data()
	mu, v := b.RunMean.Data(), b.RunVar.Data()
	a, c = make([]float64, len(g)), make([]float64, len(g))
	for j := range g {
		a[j] = float64(g[j]) / math.Sqrt(float64(v[j])+float64(float32(nn.BNEps)))
		c[j] = float64(be[j]) - float64(mu[j])*a[j]
	}
	return a, c
}

// op makes the operation name of a cell at prefix, from cin to cout channels; the
// first op of a cell does the cell's resampling.
func (b *builder) op(prefix, name string, cin, cout int, rs resample) op {
	stride := rs.stride()
	if ir, ok := irSpec[name]; ok {
		o := &irOp{up: rs == upsample}
		off := 0 // the official Sequential starts with the upsampling module
		if o.up {
			off = 1
		}
		hid := cin * ir.ex
		groups := ir.g
		if groups == 0 {
			groups = hid // depthwise
		}
		p := func(i int) string { return fmt.Sprintf("%s.conv.%d", prefix, i+off) }
		o.bn0 = b.bn(p(0)+".bn", cin, false)
		o.conv1 = b.plainConv(p(1)+".conv.0", cin, hid, 1, ad.ConvOpts{})
		o.bn1 = b.bn(p(1)+".conv.1", hid, true)
		o.conv2 = b.plainConv(p(2)+".conv.0", hid, hid, ir.k, ad.ConvOpts{Stride: stride, Pad: (ir.k - 1) / 2, Groups: groups})
		o.bn2 = b.bn(p(2)+".conv.1", hid, true)
		o.conv3 = b.plainConv(p(3), hid, cout, 1, ad.ConvOpts{})
		o.bn3 = b.bn(p(4)+".bn", cout, false)
		return o
	}
	o := &resOp{up: rs == upsample}
	co := ad.ConvOpts{Stride: stride, Pad: 1}
	dataInit := false
	switch name {
	case "res_bnswish":
		o.bn = b.bn(prefix+".bn_act", cin, true)
	case "res_bnswish5":
		o.bn = b.bn(prefix+".bn_act", cin, true)
		co.Pad, co.Dilation = 2, 2
	case "res_bnelu":
		o.bn = b.bn(prefix+".bn.bn", cin, false)
		o.elu = true
	case "res_elu":
		o.elu, dataInit = true, true
	default:
		panic("model: unknown op " + name)
	}
	o.conv = b.wnConv(prefix+".conv_0", cin, cout, 3, co)
	o.conv.DataInit = dataInit
	return o
}

// cell is the official Cell: skip(x) + 0.1·SE(ops(x)).
type cell struct {
	name   string
	fr     [4]*nn.Conv // FactorizedReduce skip (down cells)
	upSkip *nn.Conv    // bilinear-up skip conv (up cells)
	ops    []op
	se     *nn.SE
}

// resample is how a cell changes the spatial size of its input.
type resample int

const (
	sameSize   resample = iota // normal cells
	downsample                 // stride 2 (down_pre, down_enc)
	upsample                   // ×2 nearest / bilinear (up_dec, up_post)
)

// cellResample is the resampling of a cell type ("normal_enc", "down_pre", "up_dec", …).
func cellResample(typ string) resample {
	switch {
	case strings.HasPrefix(typ, "down"):
		return downsample
	case strings.HasPrefix(typ, "up"):
		return upsample
	}
	return sameSize
}

// stride is the convolution stride that does the resampling.
func (r resample) stride() int {
	if r == downsample {
		return 2
	}
	return 1
}

// cell makes a cell of type typ at prefix, from cin to cout channels.
func (b *builder) cell(prefix, typ string, cin, cout int) *cell {
	c := &cell{name: prefix}
	rs := cellResample(typ)
	switch rs {
	case downsample:
		q := cout / 4
		outs := [4]int{q, q, q, cout - 3*q}
		for i := range c.fr {
			// official: 1×1 stride-2 convs on shifted inputs; here stride 1 on Subsample2 picks
			c.fr[i] = b.wnConv(fmt.Sprintf("%s.skip.conv_%d", prefix, i+1), cin, outs[i], 1, ad.ConvOpts{})
		}
	case upsample:
		c.upSkip = b.conv(prefix+".skip.1", nn.ConvSpec{In: cin, Out: cout, Kernel: 1, WeightNorm: true})
	}
	for j, name := range archs[b.m.Cfg.ArchInstance][typ] {
		in, r := cin, rs
		if j > 0 {
			in, r = cout, sameSize
		}
		c.ops = append(c.ops, b.op(fmt.Sprintf("%s._ops.%d", prefix, j), name, in, cout, r))
	}
	if b.m.Cfg.UseSE {
		c.se = b.se(prefix+".se.se", cout)
	}
	return c
}

// convs lists the convolutions of the cell.
func (c *cell) convs() []*nn.Conv {
	var out []*nn.Conv
	for _, f := range c.fr {
		if f != nil {
			out = append(out, f)
		}
	}
	if c.upSkip != nil {
		out = append(out, c.upSkip)
	}
	for _, o := range c.ops {
		switch o := o.(type) {
		case *resOp:
			out = append(out, o.conv)
		case *irOp:
			out = append(out, o.conv1, o.conv2, o.conv3)
		}
	}
	return out
}

func (c *cell) forward(tp *ad.Tape, x *ad.Var, train bool) *ad.Var {
	// On an inference tape each intermediate value is freed after its last reader; x
	// belongs to the caller.
	var skip *ad.Var
	switch {
	case c.fr[0] != nil:
		// FactorizedReduce: swish, then 1×1 stride-2 convs reading a, a[1:,1:], a[:,1:], a[1:,:]
		a := tp.Swish(x)
		var parts [4]*ad.Var
		for i, d := range [4][2]int{{0, 0}, {1, 1}, {0, 1}, {1, 0}} {
			sub := nn.Subsample2(tp, a, d[0], d[1])
			parts[i] = c.fr[i].Forward(tp, sub)
			tp.Free(sub)
		}
		tp.Free(a)
		skip = tp.Concat(3, parts[:]...)
		tp.Free(parts[:]...)
	case c.upSkip != nil && !train && tp.Inference():
		// the 1×1 convolution first, on a quarter of the pixels: the bilinear
		// upsampling mixes pixels with weights summing to 1, so the two commute, bias
		// included (an inference-only regrouping, docs/numerics.md#deviations)
		s := c.upSkip.Forward(tp, x)
		skip = tp.UpsampleBilinear2x(s)
		tp.Free(s)
	case c.upSkip != nil:
		up := tp.UpsampleBilinear2x(x)
		skip = c.upSkip.Forward(tp, up)
		tp.Free(up)
	default:
		skip = x
	}
	s := x
	for _, o := range c.ops {
		y := o.forward(tp, s, train)
		if s != x {
			tp.Free(s)
			tp.Compact(s) // a convolution output read only by this op (bf16 training only)
		}
		s = y
	}
	var out *ad.Var
	if c.se != nil {
		// skip + 0.1·SE(s) in one pass
		gate := c.se.Gate(tp, s)
		out = nn.ChannelScaleAdd(tp, skip, s, gate, 0.1)
		tp.Free(gate)
		if s != x {
			tp.Free(s)
			tp.Compact(s)
		}
	} else {
		out = nn.AddScaled(tp, skip, s, 0.1)
		if s != x {
			tp.Free(s)
		}
	}
	if skip != x {
		tp.Free(skip)
	}
	return out
}

// flowCell is one CellAR: z − μ(z) with μ from masked convolutions (log-det 0).
type flowCell struct{ in, dw, mu *nn.Conv }

func (b *builder) flowCell(prefix string, z int, mirror bool) *flowCell {
	hid := 6 * z
	f := &flowCell{}
	f.in = b.conv(prefix+".conv.convz.0", nn.ConvSpec{In: z, Out: hid, Kernel: 3, Opts: ad.ConvOpts{Pad: 1},
		WeightNorm: true, Mask: nn.ARMask(z, hid, 3, 1, true, mirror)})
	f.dw = b.conv(prefix+".conv.convz.2", nn.ConvSpec{In: hid, Out: hid, Kernel: 5, Opts: ad.ConvOpts{Pad: 2, Groups: hid},
		WeightNorm: true, Mask: nn.ARMask(hid, hid, 5, hid, false, mirror)})
	f.mu = b.conv(prefix+".mu.conv_0", nn.ConvSpec{In: hid, Out: z, Kernel: 1, Bias: true,
		WeightNorm: true, Mask: nn.ARMask(hid, z, 1, 1, false, mirror)})
	// The official μ conv starts at a tenth of the usual norm.
	for i, v := range f.mu.LogWN.Data() {
		f.mu.LogWN.Data()[i] = v + float32(lnTenth)
	}
	return f
}

const lnTenth = -2.302585092994046

func (f *flowCell) forward(tp *ad.Tape, z *ad.Var) *ad.Var {
	a := f.in.Forward(tp, z)
	h := tp.ELU(a)
	tp.Free(a)
	a = f.dw.Forward(tp, h)
	tp.Free(h)
	h = tp.ELU(a)
	tp.Free(a)
	a = tp.ELU(h)
	tp.Free(h)
	mu := f.mu.Forward(tp, a)
	tp.Free(a)
	out := tp.Sub(z, mu)
	tp.Free(mu)
	return out
}
