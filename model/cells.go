package model

import (
	"fmt"
	"math/rand/v2"

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

// conv makes a convolution at prefix. wn selects weight normalisation; without it the
// official code registers the `weight_normalized` alias.
func (b *builder) conv(prefix string, cin, cout, k int, o ad.ConvOpts, bias, wn bool, mask *tensor.Tensor) *nn.Conv {
	c := nn.NewConv(b.rng, cin, cout, k, o, bias, wn, mask)
	b.param(prefix+".weight", c.W, layoutConv)
	if bias {
		b.param(prefix+".bias", c.B, layoutPlain)
	}
	if wn {
		b.param(prefix+".log_weight_norm", c.LogWN, layoutConv)
	} else {
		b.m.state = append(b.m.state, stateEntry{name: prefix + ".weight_normalized", kind: kindAlias, param: c.W,
			layout: layoutConv, shape: officialShape(c.W.Shape(), layoutConv)})
	}
	b.m.convs = append(b.m.convs, c)
	return c
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
	if o.bn != nil {
		x = o.bn.Forward(tp, x, train)
	}
	if o.elu {
		x = tp.ELU(x)
	}
	if o.up {
		x = tp.UpsampleNearest2x(x)
	}
	y := o.conv.Forward(tp, x)
	if o.bn != nil && !o.elu && !o.up {
		tp.Discard(x) // only the convolution reads the BN output: recompute it in backward
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
	if o.up {
		x = tp.UpsampleNearest2x(x)
	}
	// Each BN output feeds only the next convolution, so it is recomputed in backward
	// instead of being kept.
	conv := func(c *nn.Conv, x *ad.Var) *ad.Var {
		y := c.Forward(tp, x)
		tp.Discard(x)
		return y
	}
	x = o.bn0.Forward(tp, x, train)
	x = o.bn1.Forward(tp, conv(o.conv1, x), train)
	x = o.bn2.Forward(tp, conv(o.conv2, x), train)
	return o.bn3.Forward(tp, conv(o.conv3, x), train)
}

func (b *builder) op(prefix, name string, cin, cout, stride int) op {
	if ir, ok := irSpec[name]; ok {
		off := 0
		o := &irOp{up: stride == -1}
		if o.up {
			off = 1
		}
		hid := cin * ir.ex
		g := ir.g
		if g == 0 {
			g = hid
		}
		p := func(i int) string { return fmt.Sprintf("%s.conv.%d", prefix, i+off) }
		o.bn0 = b.bn(p(0)+".bn", cin, false)
		o.conv1 = b.conv(p(1)+".conv.0", cin, hid, 1, ad.ConvOpts{}, false, false, nil)
		o.bn1 = b.bn(p(1)+".conv.1", hid, true)
		o.conv2 = b.conv(p(2)+".conv.0", hid, hid, ir.k, ad.ConvOpts{Stride: max(stride, 1), Pad: (ir.k - 1) / 2, Groups: g}, false, false, nil)
		o.bn2 = b.bn(p(2)+".conv.1", hid, true)
		o.conv3 = b.conv(p(3), hid, cout, 1, ad.ConvOpts{}, false, false, nil)
		o.bn3 = b.bn(p(4)+".bn", cout, false)
		return o
	}
	o := &resOp{up: stride == -1}
	co := ad.ConvOpts{Stride: max(stride, 1), Pad: 1}
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
	o.conv = b.conv(prefix+".conv_0", cin, cout, 3, co, true, true, nil)
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

func cellStride(typ string) int {
	switch typ[:2] {
	case "do":
		return 2
	case "up":
		return -1
	}
	return 1
}

func (b *builder) cell(prefix, typ string, cin, cout int) *cell {
	c := &cell{name: prefix}
	st := cellStride(typ)
	switch st {
	case 2:
		q := cout / 4
		outs := [4]int{q, q, q, cout - 3*q}
		for i := range c.fr {
			// official: 1×1 stride-2 convs on shifted inputs; here stride 1 on Subsample2 picks
			c.fr[i] = b.conv(fmt.Sprintf("%s.skip.conv_%d", prefix, i+1), cin, outs[i], 1, ad.ConvOpts{}, true, true, nil)
		}
	case -1:
		c.upSkip = b.conv(prefix+".skip.1", cin, cout, 1, ad.ConvOpts{}, false, true, nil)
	}
	for j, name := range archs[b.m.Cfg.ArchInstance][typ] {
		ci, s := cin, st
		if j > 0 {
			ci, s = cout, 1
		}
		c.ops = append(c.ops, b.op(fmt.Sprintf("%s._ops.%d", prefix, j), name, ci, cout, s))
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
	var skip *ad.Var
	switch {
	case c.fr[0] != nil:
		// FactorizedReduce: swish, then 1×1 stride-2 convs reading a, a[1:,1:], a[:,1:], a[1:,:]
		a := tp.Swish(x)
		skip = tp.Concat(3,
			c.fr[0].Forward(tp, nn.Subsample2(tp, a, 0, 0)),
			c.fr[1].Forward(tp, nn.Subsample2(tp, a, 1, 1)),
			c.fr[2].Forward(tp, nn.Subsample2(tp, a, 0, 1)),
			c.fr[3].Forward(tp, nn.Subsample2(tp, a, 1, 0)))
	case c.upSkip != nil:
		skip = c.upSkip.Forward(tp, tp.UpsampleBilinear2x(x))
	default:
		skip = x
	}
	s := x
	for _, o := range c.ops {
		s = o.forward(tp, s, train)
	}
	if c.se != nil {
		s = c.se.Forward(tp, s)
	}
	return nn.AddScaled(tp, skip, s, 0.1)
}

// flowCell is one CellAR: z − μ(z) with μ from masked convolutions (log-det 0).
type flowCell struct{ in, dw, mu *nn.Conv }

func (b *builder) flowCell(prefix string, z int, mirror bool) *flowCell {
	hid := 6 * z
	f := &flowCell{}
	f.in = b.conv(prefix+".conv.convz.0", z, hid, 3, ad.ConvOpts{Pad: 1}, false, true, nn.ARMask(z, hid, 3, 1, true, mirror))
	f.dw = b.conv(prefix+".conv.convz.2", hid, hid, 5, ad.ConvOpts{Pad: 2, Groups: hid}, false, true, nn.ARMask(hid, hid, 5, hid, false, mirror))
	f.mu = b.conv(prefix+".mu.conv_0", hid, z, 1, ad.ConvOpts{}, true, true, nn.ARMask(hid, z, 1, 1, false, mirror))
	// The official μ conv starts at a tenth of the usual norm.
	for i, v := range f.mu.LogWN.Data() {
		f.mu.LogWN.Data()[i] = v + float32(lnTenth)
	}
	return f
}

const lnTenth = -2.302585092994046

func (f *flowCell) forward(tp *ad.Tape, z *ad.Var) *ad.Var {
	h := tp.ELU(f.in.Forward(tp, z))
	h = tp.ELU(f.dw.Forward(tp, h))
	mu := f.mu.Forward(tp, tp.ELU(h))
	return tp.Sub(z, mu)
}
