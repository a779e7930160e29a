package tensor

import "fmt"

// NCHWToNHWC converts a [N, C, H, W] tensor to [N, H, W, C]. A PyTorch OIHW
// convolution weight converts to the engine's OHWI layout with the same call.
func NCHWToNHWC(t *Tensor) *Tensor {
	if t.Rank() != 4 {
		panic(fmt.Sprintf("tensor.NCHWToNHWC: rank %d", t.Rank()))
	}
	n, c, h, w := t.shape[0], t.shape[1], t.shape[2], t.shape[3]
	out := New(n, h, w, c)
	src, dst := t.data, out.data
	for b := 0; b < n; b++ {
		for ci := 0; ci < c; ci++ {
			plane := src[(b*c+ci)*h*w : (b*c+ci+1)*h*w]
			for p, v := range plane {
				dst[(b*h*w+p)*c+ci] = v
			}
		}
	}
	return out
}

// NHWCToNCHW converts a [N, H, W, C] tensor to [N, C, H, W] (and OHWI weights to OIHW).
func NHWCToNCHW(t *Tensor) *Tensor {
	if t.Rank() != 4 {
		panic(fmt.Sprintf("tensor.NHWCToNCHW: rank %d", t.Rank()))
	}
	n, h, w, c := t.shape[0], t.shape[1], t.shape[2], t.shape[3]
	out := New(n, c, h, w)
	src, dst := t.data, out.data
	for b := 0; b < n; b++ {
		for p := 0; p < h*w; p++ {
			row := src[(b*h*w+p)*c : (b*h*w+p+1)*c]
			for ci, v := range row {
				dst[(b*c+ci)*h*w+p] = v
			}
		}
	}
	return out
}
