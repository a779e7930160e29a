package data

import "math"

// This file resamples uint8 images the way PIL's Image.resize(size, BILINEAR) does,
// which is what torchvision's Resize does on PIL images: a separable convolution with
// the triangle filter whose support widens by the scale factor when shrinking
// (antialiasing), horizontal pass first, each pass rounding back to uint8 through
// 22-bit fixed-point weights.

// pilPrecisionBits is the fixed-point precision of the 8-bit resampling weights.
const pilPrecisionBits = 32 - 8 - 2

// resampleWeights holds, for each output position, the first input index and the
// fixed-point weights of the inputs it reads.
type resampleWeights struct {
	start []int
	k     [][]int32
}

// triangle is the bilinear filter kernel, with support 1.
func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

// bilinearWeights computes the weights that resample in samples to out samples.
func bilinearWeights(in, out int) resampleWeights {
	scale := float64(in) / float64(out)
	fs := math.Max(scale, 1)
	support := fs // the triangle's support (1) times the filter scale
	rw := resampleWeights{start: make([]int, out), k: make([][]int32, out)}
	ws := make([]float64, 0, int(2*support)+3)
	for i := 0; i < out; i++ {
		center := (float64(i) + 0.5) * scale
		lo := int(center - support + 0.5) // truncation toward zero, as C's (int)
		if lo < 0 {
			lo = 0
		}
		hi := int(center + support + 0.5)
		if hi > in {
			hi = in
		}
		ws = ws[:0]
		sum := 0.0
		for x := lo; x < hi; x++ {
			w := triangle((float64(x) - center + 0.5) / fs)
			ws = append(ws, w)
			sum += w
		}
		k := make([]int32, len(ws))
		for j, w := range ws {
			if sum != 0 {
				w /= sum
			}
			if w < 0 {
				k[j] = int32(w*(1<<pilPrecisionBits) - 0.5)
			} else {
				k[j] = int32(w*(1<<pilPrecisionBits) + 0.5)
			}
		}
		rw.start[i], rw.k[i] = lo, k
	}
	return rw
}

// clip8 converts a fixed-point accumulator to a byte.
func clip8(ss int64) uint8 {
	v := ss >> pilPrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeBilinear resamples the h×w×c HWC image src to oh×ow with PIL's BILINEAR
// filter. It returns src itself when the size does not change.
func resizeBilinear(src []uint8, h, w, c, oh, ow int) []uint8 {
	cur, cw := src, w
	if ow != w {
		rw := bilinearWeights(w, ow)
		tmp := make([]uint8, h*ow*c)
		for y := 0; y < h; y++ {
			row := cur[y*w*c : (y+1)*w*c]
			for x := 0; x < ow; x++ {
				s0, k := rw.start[x], rw.k[x]
				for ch := 0; ch < c; ch++ {
					ss := int64(1) << (pilPrecisionBits - 1)
					for j, kj := range k {
						ss += int64(row[(s0+j)*c+ch]) * int64(kj)
					}
					tmp[(y*ow+x)*c+ch] = clip8(ss)
				}
			}
		}
		cur, cw = tmp, ow
	}
	if oh != h {
		rw := bilinearWeights(h, oh)
		out := make([]uint8, oh*cw*c)
		stride := cw * c
		for y := 0; y < oh; y++ {
			s0, k := rw.start[y], rw.k[y]
			for i := 0; i < stride; i++ {
				ss := int64(1) << (pilPrecisionBits - 1)
				for j, kj := range k {
					ss += int64(cur[(s0+j)*stride+i]) * int64(kj)
				}
				out[y*stride+i] = clip8(ss)
			}
		}
		cur = out
	}
	return cur
}

// cropHWC copies the rectangle [left,left+cw)×[top,top+ch) out of an h×w×c image.
func cropHWC(src []uint8, w, c, left, top, cw, ch int) []uint8 {
	out := make([]uint8, 0, cw*ch*c)
	for y := top; y < top+ch; y++ {
		out = append(out, src[(y*w+left)*c:(y*w+left+cw)*c]...)
	}
	return out
}

// roundHalfEven rounds like Python 3's round().
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }
