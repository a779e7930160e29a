package cpu

// UpsampleNearest2x writes y[n, i, j, c] = x[n, i/2, j/2, c] for NHWC x [N,H,W,C].
func UpsampleNearest2x(n, h, w, c int, x, y []float32) {
	Parallel(n*2*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, i := r/(2*h), r%(2*h)
			src := x[(b*h+i/2)*w*c:]
			dst := y[r*2*w*c : (r+1)*2*w*c]
			for j := 0; j < 2*w; j++ {
				copy(dst[j*c:(j+1)*c], src[(j/2)*c:(j/2+1)*c])
			}
		}
	})
}

// UpsampleNearest2xBackward accumulates gx from gy (the sum of each 2×2 block).
func UpsampleNearest2xBackward(n, h, w, c int, gy, gx []float32) {
	Parallel(n*h, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, i := r/h, r%h
			dst := gx[r*w*c : (r+1)*w*c]
			for di := 0; di < 2; di++ {
				src := gy[(b*2*h+2*i+di)*2*w*c:]
				for j := 0; j < 2*w; j++ {
					d := dst[(j/2)*c : (j/2+1)*c]
					for k, v := range src[j*c : (j+1)*c] {
						d[k] += v
					}
				}
			}
		}
	})
}

// bilinearTaps gives, for each of the 2·size outputs, the two source indices and
// weights of align_corners=True interpolation, computed in float32 as PyTorch does.
func bilinearTaps(size int) (i0, i1 []int, w0, w1 []float32) {
	out := 2 * size
	i0, i1 = make([]int, out), make([]int, out)
	w0, w1 = make([]float32, out), make([]float32, out)
	var scale float32
	if out > 1 {
		scale = float32(size-1) / float32(out-1)
	}
	for o := 0; o < out; o++ {
		src := scale * float32(o)
		a := int(src)
		b := a
		if a < size-1 {
			b = a + 1
		}
		l := src - float32(a)
		i0[o], i1[o], w0[o], w1[o] = a, b, 1-l, l
	}
	return
}

// UpsampleBilinear2x is 2× bilinear upsampling with align_corners=True over NHWC.
func UpsampleBilinear2x(n, h, w, c int, x, y []float32) {
	hy0, hy1, hw0, hw1 := bilinearTaps(h)
	wx0, wx1, ww0, ww1 := bilinearTaps(w)
	// whole vectors of channels: one kernel call per output row, with the column taps
	// as byte offsets and weights side by side (few channels make a call per pixel
	// mostly overhead)
	var taps []int
	var wts []float32
	k := vecKernels.get().bilerpRow
	if c%8 != 0 || c == 0 || w == 0 {
		k = nil
	} else {
		taps, wts = make([]int, 4*w), make([]float32, 4*w)
		for j := range 2 * w {
			taps[2*j], taps[2*j+1] = 4*wx0[j]*c, 4*wx1[j]*c
			wts[2*j], wts[2*j+1] = ww0[j], ww1[j]
		}
	}
	Parallel(n*2*h, 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, i := r/(2*h), r%(2*h)
			top := x[(b*h+hy0[i])*w*c : (b*h+hy0[i]+1)*w*c]
			bot := x[(b*h+hy1[i])*w*c : (b*h+hy1[i]+1)*w*c]
			dst := y[r*2*w*c : (r+1)*2*w*c]
			a0, a1 := hw0[i], hw1[i]
			if k != nil {
				// every offset is inside top and bot (wx0, wx1 < w), and the row holds
				// 2w pixels
				k(&dst[0], &top[0], &bot[0], &taps[0], &wts[0], 2*w, c, a0, a1)
				continue
			}
			for j := 0; j < 2*w; j++ {
				c0, c1 := wx0[j]*c, wx1[j]*c
				b0, b1 := ww0[j], ww1[j]
				BilerpF32(dst[j*c:(j+1)*c], top[c0:c0+c], top[c1:c1+c], bot[c0:c0+c], bot[c1:c1+c], a0, a1, b0, b1)
			}
		}
	})
}

// UpsampleBilinear2xBackward accumulates gx from gy for UpsampleBilinear2x.
func UpsampleBilinear2xBackward(n, h, w, c int, gy, gx []float32) {
	hy0, hy1, hw0, hw1 := bilinearTaps(h)
	wx0, wx1, ww0, ww1 := bilinearTaps(w)
	Parallel(n, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			for i := 0; i < 2*h; i++ {
				top := gx[(b*h+hy0[i])*w*c:]
				bot := gx[(b*h+hy1[i])*w*c:]
				src := gy[(b*2*h+i)*2*w*c:]
				a0, a1 := hw0[i], hw1[i]
				for j := 0; j < 2*w; j++ {
					c0, c1 := wx0[j]*c, wx1[j]*c
					b0, b1 := ww0[j], ww1[j]
					for k, g := range src[j*c : (j+1)*c] {
						top[c0+k] += a0 * b0 * g
						top[c1+k] += a0 * b1 * g
						bot[c0+k] += a1 * b0 * g
						bot[c1+k] += a1 * b1 * g
					}
				}
			}
		}
	})
}
