package nn

import (
	"fmt"
	"math"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// WeightNorm is the fused weight normalisation w_eff[o] = exp(lwn[o])·ŵ[o]/(‖ŵ[o]‖ + 1e-5), with
// ŵ = w⊙mask (mask may be nil), per output channel o of an OHWI weight w and lwn [Cout,1,1,1].
func WeightNorm(tp *ad.Tape, w, lwn *ad.Var, mask *tensor.Tensor) *ad.Var {
	shape := w.Shape()
	cout := shape[0]
	per := w.Value.Len() / cout
	if lwn.Value.Len() != cout || (mask != nil && mask.Len() != w.Value.Len()) {
		panic(fmt.Sprintf("nn.WeightNorm: weight %v, log norm %v", shape, lwn.Shape()))
	}
	wd, ld := w.Data(), lwn.Data()
	var md []float32
	if mask != nil {
		md = mask.Data()
	}
	// per-row norm and scale, kept for the backward pass
	aux := tensor.Get(2, cout)
	tp.Own(aux)
	norm, scale := aux.Data()[:cout], aux.Data()[cout:]
	var od []float32
	back := func(g []float32, grad func(i int) []float32) {
		gw, gl := grad(0), grad(1)
		cpu.Parallel(cout, 8, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				gr := g[o*per : (o+1)*per]
				orow := od[o*per : (o+1)*per]
				var dot float64 // Σ g·out
				for j, v := range gr {
					dot += float64(v) * float64(orow[j])
				}
				if gl != nil {
					gl[o] += float32(dot)
				}
				if gw == nil {
					continue
				}
				n, sc := norm[o], scale[o]
				// out = sc·ŵ with sc = e/(n+ε): d/dŵ_j = sc·g_j − (Σ g·out)/(n+ε)·ŵ_j/n
				var c float32
				if n > 0 {
					c = float32(dot) / ((n + 1e-5) * n)
				}
				row := wd[o*per : (o+1)*per]
				dst := gw[o*per : (o+1)*per]
				if md == nil {
					for j, v := range row {
						dst[j] += sc*gr[j] - c*v
					}
				} else {
					mr := md[o*per : (o+1)*per]
					for j, v := range row {
						if mr[j] != 0 {
							dst[j] += (sc*gr[j] - c*v*mr[j]) * mr[j]
						}
					}
				}
			}
		})
	}
	out := tp.Custom(shape, []*ad.Var{w, lwn}, back)
	od = out.Data()
	cpu.Parallel(cout, 8, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			row := wd[o*per : (o+1)*per]
			var s float64
			if md == nil {
				for _, v := range row {
					s += float64(v) * float64(v)
				}
			} else {
				mr := md[o*per : (o+1)*per]
				for j, v := range row {
					v *= mr[j]
					s += float64(v) * float64(v)
				}
			}
			n := float32(math.Sqrt(s))
			sc := float32(math.Exp(float64(ld[o]))) / (n + 1e-5)
			norm[o], scale[o] = n, sc
			dst := od[o*per : (o+1)*per]
			if md == nil {
				for j, v := range row {
					dst[j] = sc * v
				}
			} else {
				mr := md[o*per : (o+1)*per]
				for j, v := range row {
					dst[j] = sc * (v * mr[j])
				}
			}
		}
	})
	return out
}

// ChannelScale is x·v broadcast over space: x [N,H,W,C], v [N,C].
func ChannelScale(tp *ad.Tape, x, v *ad.Var) *ad.Var {
	n, hw, c := channelScaleShape("ChannelScale", x, v)
	vd := v.Data()
	out := tp.Custom(x.Shape(), []*ad.Var{x, v}, func(g []float32, grad func(i int) []float32) {
		channelScaleBack(x, vd, n, hw, c, g, grad(0), grad(1))
	})
	od, xd := out.Data(), x.Data()
	eachGateSpan(vd, n, hw, c, func(r0, r1 int, vb []float32) {
		cpu.MulF32(xd[r0*c:r1*c], vb, od[r0*c:r1*c])
	})
	return out
}

// ChannelScaleAdd is a + k·(x·v), v broadcast over space: the residual output of a cell
// ending in squeeze-and-excitation (a, x [N,H,W,C], v [N,C]). It gives the values and
// gradients of AddScaled(a, ChannelScale(x, v), k) bit for bit, in one pass over the
// tensors and without the scaled tensor.
func ChannelScaleAdd(tp *ad.Tape, a, x, v *ad.Var, k float32) *ad.Var {
	n, hw, c := channelScaleShape("ChannelScaleAdd", x, v)
	if !tensor.SameShape(a.Shape(), x.Shape()) {
		panic(fmt.Sprintf("nn.ChannelScaleAdd: a %v, x %v", a.Shape(), x.Shape()))
	}
	vd := v.Data()
	out := tp.Custom(x.Shape(), []*ad.Var{a, x, v}, func(g []float32, grad func(i int) []float32) {
		if ga := grad(0); ga != nil {
			cpu.Axpy(1, g, ga)
		}
		gx, gv := grad(1), grad(2)
		if gx == nil && gv == nil {
			return
		}
		// the gradient of x·v as AddScaled gives it: 0 + k·g, each step rounded
		gs := tensor.Get(len(g))
		defer tensor.Put(gs)
		gsd := gs.Data()
		clear(gsd)
		cpu.Axpy(k, g, gsd)
		channelScaleBack(x, vd, n, hw, c, gsd, gx, gv)
	})
	od, ad_, xd := out.Data(), a.Data(), x.Data()
	eachGateSpan(vd, n, hw, c, func(r0, r1 int, vb []float32) {
		cpu.MulScaleAddF32(xd[r0*c:r1*c], vb, ad_[r0*c:r1*c], k, od[r0*c:r1*c])
	})
	return out
}

// channelScaleShape checks that v [N,C] scales the channels of x [N,H,W,C] and returns
// N, H·W and C.
func channelScaleShape(op string, x, v *ad.Var) (n, hw, c int) {
	s := x.Shape()
	if len(s) != 4 || v.Value.Len() != s[0]*s[3] {
		panic(fmt.Sprintf("nn.%s: x %v, v %v", op, s, v.Shape()))
	}
	return s[0], s[1] * s[2], s[3]
}

// channelScaleBack accumulates the gradients of x·v (x [N,H,W,C], v [N,C] as vd) for
// the output gradient g: gx += g·v and gv += Σ over space of g·x (in float64); a nil
// gradient is skipped.
func channelScaleBack(x *ad.Var, vd []float32, n, hw, c int, g, gx, gv []float32) {
	xd := x.Data() // read now: x may have been compacted and widened again (ad.Tape.Compact)
	if gx != nil {
		cpu.Parallel(n*hw, 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				vr := vd[(r/hw)*c : (r/hw+1)*c]
				cpu.MulAddF32(g[r*c:(r+1)*c], vr, gx[r*c:(r+1)*c])
			}
		})
	}
	if gv != nil {
		cpu.Parallel(n, 1, func(lo, hi int) {
			acc := make([]float64, c)
			for b := lo; b < hi; b++ {
				clear(acc)
				for p := 0; p < hw; p++ {
					r := b*hw + p
					cpu.MulAddF64(g[r*c:(r+1)*c], xd[r*c:(r+1)*c], acc)
				}
				for j := range acc {
					gv[b*c+j] += float32(acc[j])
				}
			}
		})
	}
}

// eachGateSpan calls f in parallel for spans [r0, r1) of the n·hw pixel rows of c
// channels that lie within one image, with vb holding that image's v [N,C] (as vd)
// repeated for at least r1 − r0 rows, so that one vector call covers several rows (few
// channels make a call per row mostly overhead).
func eachGateSpan(vd []float32, n, hw, c int, f func(r0, r1 int, vb []float32)) {
	reps := max(1, min(hw, channelScaleSpan/c))
	vt := tensor.Get(n * reps * c)
	defer tensor.Put(vt)
	vtd := vt.Data()
	for b := 0; b < n; b++ {
		for i := range reps {
			copy(vtd[(b*reps+i)*c:], vd[b*c:(b+1)*c])
		}
	}
	cpu.Parallel(n*hw, 64, func(lo, hi int) {
		for r := lo; r < hi; {
			b := r / hw
			end := min(hi, (b+1)*hw)
			vb := vtd[b*reps*c : (b+1)*reps*c]
			for r0 := r; r0 < end; r0 += reps {
				f(r0, min(end, r0+reps), vb)
			}
			r = end
		}
	})
}

// channelScaleSpan is the length of ChannelScale's repeated scale vector.
const channelScaleSpan = 1024

// AddScaled is a + k·b for same-shaped a and b (the residual cell output).
func AddScaled(tp *ad.Tape, a, b *ad.Var, k float32) *ad.Var {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		panic(fmt.Sprintf("nn.AddScaled: %v and %v", a.Shape(), b.Shape()))
	}
	ad_, bd := a.Data(), b.Data()
	var od []float32
	back := func(g []float32, grad func(i int) []float32) {
		if ga := grad(0); ga != nil {
			cpu.Axpy(1, g, ga)
		}
		if gb := grad(1); gb != nil {
			cpu.Axpy(k, g, gb)
		}
	}
	out := tp.Custom(a.Shape(), []*ad.Var{a, b}, back)
	od = out.Data()
	cpu.Parallel(len(od), 1<<14, func(lo, hi int) {
		// od = a + k·b, a block at a time so that the copy is still in L1 for the
		// multiply-add
		for b0 := lo; b0 < hi; b0 += 2048 {
			b1 := min(hi, b0+2048)
			copy(od[b0:b1], ad_[b0:b1])
			cpu.AxpyF32(k, bd[b0:b1], od[b0:b1])
		}
	})
	return out
}

// BroadcastBatch repeats x [1, ...] n times along the first axis; the gradient sums back.
func BroadcastBatch(tp *ad.Tape, x *ad.Var, n int) *ad.Var {
	s := x.Shape()
	if s[0] != 1 {
		panic(fmt.Sprintf("nn.BroadcastBatch: shape %v", s))
	}
	shape := append([]int{n}, s[1:]...)
	xd := x.Data()
	m := len(xd)
	var od []float32
	back := func(g []float32, grad func(i int) []float32) {
		if gx := grad(0); gx != nil {
			for b := 0; b < n; b++ {
				cpu.Axpy(1, g[b*m:(b+1)*m], gx)
			}
		}
	}
	out := tp.Custom(shape, []*ad.Var{x}, back)
	od = out.Data()
	for b := 0; b < n; b++ {
		copy(od[b*m:(b+1)*m], xd)
	}
	return out
}

// Tile stacks reps copies of x along the first axis: [N, ...] becomes [reps·N, ...]
// with row j·N + i a copy of row i. The gradient sums over the copies.
func Tile(tp *ad.Tape, x *ad.Var, reps int) *ad.Var {
	s := x.Shape()
	if len(s) == 0 || reps < 1 {
		panic(fmt.Sprintf("nn.Tile: %d copies of shape %v", reps, s))
	}
	shape := append([]int{reps * s[0]}, s[1:]...)
	xd := x.Data()
	m := len(xd)
	back := func(g []float32, grad func(i int) []float32) {
		if gx := grad(0); gx != nil {
			for r := 0; r < reps; r++ {
				cpu.Axpy(1, g[r*m:(r+1)*m], gx)
			}
		}
	}
	out := tp.Custom(shape, []*ad.Var{x}, back)
	od := out.Data()
	cpu.Parallel(reps, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(od[r*m:(r+1)*m], xd)
		}
	})
	return out
}

// Subsample2 picks x[:, dy::2, dx::2, :] of an NHWC tensor with even H and W (the inputs of
// FactorizedReduce's stride-2 1×1 convolutions, which then run at stride 1).
func Subsample2(tp *ad.Tape, x *ad.Var, dy, dx int) *ad.Var {
	s := x.Shape()
	n, h, w, c := s[0], s[1], s[2], s[3]
	if h%2 != 0 || w%2 != 0 || dy < 0 || dy > 1 || dx < 0 || dx > 1 {
		panic(fmt.Sprintf("nn.Subsample2: shape %v, offset (%d,%d)", s, dy, dx))
	}
	oh, ow := h/2, w/2
	xd := x.Data()
	var od []float32
	back := func(g []float32, grad func(i int) []float32) {
		gx := grad(0)
		if gx == nil {
			return
		}
		cpu.Parallel(n*oh, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				b, i := r/oh, r%oh
				for j := 0; j < ow; j++ {
					src := g[(r*ow+j)*c : (r*ow+j+1)*c]
					dst := gx[((b*h+2*i+dy)*w+2*j+dx)*c:]
					for k, v := range src {
						dst[k] += v
					}
				}
			}
		})
	}
	out := tp.Custom([]int{n, oh, ow, c}, []*ad.Var{x}, back)
	od = out.Data()
	cpu.Parallel(n*oh, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, i := r/oh, r%oh
			for j := 0; j < ow; j++ {
				copy(od[(r*ow+j)*c:(r*ow+j+1)*c], xd[((b*h+2*i+dy)*w+2*j+dx)*c:])
			}
		}
	})
	return out
}
