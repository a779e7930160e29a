package ad

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nvae-go/nvae/tensor"
)

// TestInferenceTapeFree: Free hands a computed value back at once on an inference
// tape (the bytes held drop and the storage is gone), leaves leaves and views alone,
// and does nothing on other tapes.
func TestInferenceTapeFree(t *testing.T) {
	x := Const(tensor.FromData([]float32{1, 2, 3, 4}, 2, 2))
	tp := NewInferenceTape()
	a := tp.Scale(x, 2) // 16 bytes
	b := tp.AddScalar(a, 1)
	if got := tp.PeakBytes(); got != 32 {
		t.Fatalf("peak %d bytes, want 32", got)
	}
	v := tp.Reshape(b, 4)
	tp.Free(a, x, v, nil)
	if len(a.Data()) != 0 {
		t.Error("the freed value still has storage")
	}
	if len(x.Data()) != 4 || len(b.Data()) != 4 {
		t.Error("Free touched a leaf or a view's storage")
	}
	c := tp.Scale(b, 3) // reuses a's storage: the peak stays
	if got := tp.PeakBytes(); got != 32 {
		t.Errorf("peak %d bytes after freeing and reallocating, want 32", got)
	}
	if c.Data()[3] != 27 {
		t.Errorf("3·(2·4+1) = %v", c.Data()[3])
	}
	tp.Release()

	for _, other := range []*Tape{NewTape(), NewNoGradTape()} {
		a := other.Scale(x, 2)
		other.Free(a)
		if len(a.Data()) != 4 {
			t.Error("Free released a value on a tape that is not an inference tape")
		}
		other.Release()
	}
}

// TestStopWhen: an operation on a tape whose stop condition holds panics with Stopped
// before computing anything.
func TestStopWhen(t *testing.T) {
	x := Const(tensor.FromData([]float32{1, 2}, 2))
	tp := NewInferenceTape()
	defer tp.Release()
	stop := false
	tp.StopWhen(func() bool { return stop })
	tp.Scale(x, 2)
	stop = true
	defer func() {
		if r := recover(); r != (Stopped{}) {
			t.Errorf("recovered %v, want Stopped", r)
		}
	}()
	tp.Scale(x, 2)
	t.Error("the operation ran after the stop condition")
}

// TestConv2DSwishInference: on an inference tape the fused convolution + Swish gives
// the bits of the two operations, holds no intermediate tensor, and reads its inputs
// unchanged, for 1×1, depthwise and dense convolutions.
func TestConv2DSwishInference(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	uni := func(shape ...int) *Var { return uniformConst(r, 2, shape...) }
	for _, tc := range []struct {
		name string
		w    *Var
		o    ConvOpts
	}{
		{"1x1", uni(24, 1, 1, 8), ConvOpts{}},
		{"depthwise 5x5", uni(8, 5, 5, 1), ConvOpts{Pad: 2, Groups: 8}},
		{"3x3", uni(6, 3, 3, 8), ConvOpts{Pad: 1}},
	} {
		x := uni(3, 6, 5, 8)
		b := uni(tc.w.Shape()[0])
		ref := NewNoGradTape()
		want := ref.Swish(ref.Conv2D(x, tc.w, b, tc.o))
		tp := NewInferenceTape()
		got := tp.Conv2DSwish(x, tc.w, b, tc.o)
		for i, v := range want.Data() {
			if math.Float32bits(got.Data()[i]) != math.Float32bits(v) {
				t.Fatalf("%s: y[%d] = %g, unfused %g", tc.name, i, got.Data()[i], v)
			}
		}
		if peak := tp.PeakBytes(); peak != int64(4*got.Value.Len()) {
			t.Errorf("%s: inference tape peaked at %d bytes, want only the output's %d", tc.name, peak, 4*got.Value.Len())
		}
		ref.Release()
		tp.Release()
	}
}

// TestInvertedResidualInference: on an inference tape the fused inverted-residual
// chain gives the bits of its separate operations on a recording tape and holds no
// intermediate tensor; with upsampling, the fused upsampling + depthwise convolution
// agrees with the explicit upsampling to rounding.
func TestInvertedResidualInference(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	uni := func(shape ...int) *Var { return uniformConst(r, 1, shape...) }
	for _, up := range []bool{false, true} {
		x := uni(3, 4, 4, 8)
		c1 := ConvArgs{W: uni(24, 1, 1, 8), B: uni(24)}
		c2 := ConvArgs{W: uni(24, 5, 5, 1), B: uni(24), Opts: ConvOpts{Pad: 2, Groups: 24}}
		c3 := ConvArgs{W: uni(8, 1, 1, 24), B: uni(8)}
		ref := NewTape()
		h := ref.Swish(ref.Conv2D(x, c1.W, c1.B, c1.Opts))
		if up {
			h = ref.UpsampleNearest2x(h)
		}
		want := ref.Conv2D(ref.Swish(ref.Conv2D(h, c2.W, c2.B, c2.Opts)), c3.W, c3.B, c3.Opts)
		tp := NewInferenceTape()
		got := tp.InvertedResidual(x, c1, c2, c3, up)
		if !slices.Equal(got.Shape(), want.Shape()) {
			t.Fatalf("up=%v: shape %v, want %v", up, got.Shape(), want.Shape())
		}
		for i, v := range want.Data() {
			g := got.Data()[i]
			if up && math.Abs(float64(g-v)) > 1e-5*(1+math.Abs(float64(v))) || !up && math.Float32bits(g) != math.Float32bits(v) {
				t.Fatalf("up=%v: y[%d] = %g, separate operations %g", up, i, g, v)
			}
		}
		// the output and, while it ran, the intermediates the separate operations hold
		inter := int64(4 * 3 * 24 * (16 + 16*4))
		if !up {
			inter = 4 * 3 * 24 * (16 + 16)
		}
		if peak := tp.PeakBytes(); peak != int64(4*got.Value.Len())+inter {
			t.Errorf("up=%v: inference tape peaked at %d bytes, want the output's %d + %d", up, peak, 4*got.Value.Len(), inter)
		}
		ref.Release()
		tp.Release()
	}
}

// uniformConst is a constant of the given shape with values uniform in [−a, a).
func uniformConst(r *rand.Rand, a float32, shape ...int) *Var {
	x := tensor.New(shape...)
	for i := range x.Data() {
		x.Data()[i] = a * (2*r.Float32() - 1)
	}
	return Const(x)
}
