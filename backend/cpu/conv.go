package cpu

import "fmt"

// ConvParams describes a 2-D cross-correlation with PyTorch semantics over NHWC
// input and OHWI weights: out = floor((H + 2·PadH − DilH·(KH−1) − 1)/StrideH) + 1.
type ConvParams struct {
	N, H, W, C                               int
	K                                        int
	KH, KW                                   int
	StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                   int
}

// OutHW is the output height and width.
func (p ConvParams) OutHW() (oh, ow int) {
	oh = (p.H+2*p.PadH-p.DilH*(p.KH-1)-1)/p.StrideH + 1
	ow = (p.W+2*p.PadW-p.DilW*(p.KW-1)-1)/p.StrideW + 1
	return
}

// Validate reports impossible parameters.
func (p ConvParams) Validate() error {
	if p.N < 1 || p.H < 1 || p.W < 1 || p.C < 1 || p.K < 1 || p.KH < 1 || p.KW < 1 ||
		p.StrideH < 1 || p.StrideW < 1 || p.DilH < 1 || p.DilW < 1 || p.PadH < 0 || p.PadW < 0 || p.Groups < 1 {
		return fmt.Errorf("conv: invalid parameters %+v", p)
	}
	if p.C%p.Groups != 0 || p.K%p.Groups != 0 {
		return fmt.Errorf("conv: %d input and %d output channels not divisible by %d groups", p.C, p.K, p.Groups)
	}
	if oh, ow := p.OutHW(); oh < 1 || ow < 1 {
		return fmt.Errorf("conv: empty output for %+v", p)
	}
	return nil
}

// naive placeholder; replaced by the im2col/GEMM implementation.
func (p ConvParams) each(fn func(n, oy, ox, k, ky, kx, ci, iy, ix int)) {
	oh, ow := p.OutHW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for k := 0; k < p.K; k++ {
					g := k / kg
					for ky := 0; ky < p.KH; ky++ {
						iy := oy*p.StrideH - p.PadH + ky*p.DilH
						if iy < 0 || iy >= p.H {
							continue
						}
						for kx := 0; kx < p.KW; kx++ {
							ix := ox*p.StrideW - p.PadW + kx*p.DilW
							if ix < 0 || ix >= p.W {
								continue
							}
							for ci := 0; ci < cg; ci++ {
								fn(n, oy, ox, k, ky, kx, ci, iy, ix+0*g)
							}
						}
					}
				}
			}
		}
	}
}

// Conv2DForward computes y = conv(x, w) + bias (bias may be nil); y is overwritten.
func Conv2DForward(p ConvParams, x, w, bias, y []float32) {
	oh, ow := p.OutHW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	for i := range y {
		y[i] = 0
	}
	p.each(func(n, oy, ox, k, ky, kx, ci, iy, ix int) {
		c := (k/kg)*cg + ci
		y[((n*oh+oy)*ow+ox)*p.K+k] += w[((k*p.KH+ky)*p.KW+kx)*cg+ci] * x[((n*p.H+iy)*p.W+ix)*p.C+c]
	})
	if bias != nil {
		for i := range y {
			y[i] += bias[i%p.K]
		}
	}
}

// Conv2DBackwardData accumulates the input gradient into dx.
func Conv2DBackwardData(p ConvParams, dy, w, dx []float32) {
	oh, ow := p.OutHW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	p.each(func(n, oy, ox, k, ky, kx, ci, iy, ix int) {
		c := (k/kg)*cg + ci
		dx[((n*p.H+iy)*p.W+ix)*p.C+c] += w[((k*p.KH+ky)*p.KW+kx)*cg+ci] * dy[((n*oh+oy)*ow+ox)*p.K+k]
	})
}

// Conv2DBackwardFilter accumulates the weight (and bias, if non-nil) gradients.
func Conv2DBackwardFilter(p ConvParams, x, dy, dw, dbias []float32) {
	oh, ow := p.OutHW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	p.each(func(n, oy, ox, k, ky, kx, ci, iy, ix int) {
		c := (k/kg)*cg + ci
		dw[((k*p.KH+ky)*p.KW+kx)*cg+ci] += x[((n*p.H+iy)*p.W+ix)*p.C+c] * dy[((n*oh+oy)*ow+ox)*p.K+k]
	})
	if dbias != nil {
		for i, v := range dy {
			dbias[i%p.K] += v
		}
	}
}
