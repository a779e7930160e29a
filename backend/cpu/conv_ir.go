package cpu

import "fmt"

// ConvLayer is one convolution of a chain: its parameters (N is the batch of the
// whole chain), OHWI weights and bias (nil for none).
type ConvLayer struct {
	P    ConvParams
	W, B []float32
}

// InvertedResidualForward computes the inverted-residual chain of NVAE's decoder
// cells in eval mode, batch norms folded:
//
//	y = conv3(Swish(conv2(Up(Swish(conv1(x))))))
//
// where conv1 and conv3 are any convolutions (1×1 in NVAE), conv2 is depthwise, and
// Up is the nearest-neighbour 2× upsampling when up is set (then conv2 runs fused
// with it, as DepthwiseUp2xForward) and nothing otherwise. c2.P describes conv2 as
// applied to its (upsampled) input. The values are those of the separate operations
// (Conv2DForwardSwish, DepthwiseUp2xForward, Conv2DForward), bit for bit.
//
// While the engine's loops run serially (inside Spread, as eval.NLL runs its parts),
// the chain goes a few images at a time through two scratch buffers sized to stay in
// L2, so the expanded intermediate tensors (six times the channels of x and y) never
// make a trip through memory; otherwise each convolution runs on the whole batch with
// its own parallel loops. It panics when the shapes do not chain or a slice is too
// short.
func InvertedResidualForward(x []float32, c1, c2, c3 ConvLayer, up bool, y []float32) {
	for i, c := range []ConvLayer{c1, c2, c3} {
		if err := c.P.Validate(); err != nil {
			panic(fmt.Sprintf("cpu.InvertedResidualForward: conv%d: %v", i+1, err))
		}
	}
	n := c1.P.N
	h1, w1 := c1.P.OutHW()
	u := 1
	if up {
		u = 2
	}
	if c2.P.N != n || c3.P.N != n || c1.P.K != c2.P.C || c2.P.K != c3.P.C || !c2.P.isDepthwise() ||
		c2.P.H != u*h1 || c2.P.W != u*w1 {
		panic(fmt.Sprintf("cpu.InvertedResidualForward: convolutions do not chain: %+v, %+v, %+v, up %v", c1.P, c2.P, c3.P, up))
	}
	h2, w2 := c2.P.OutHW()
	if c3.P.H != h2 || c3.P.W != w2 {
		panic(fmt.Sprintf("cpu.InvertedResidualForward: conv3 input %dx%d, conv2 output %dx%d", c3.P.H, c3.P.W, h2, w2))
	}
	h3, w3 := c3.P.OutHW()
	// per image: the input, the two intermediate tensors and the output
	inPer := c1.P.H * c1.P.W * c1.P.C
	t1Per := h1 * w1 * c1.P.K
	t2Per := h2 * w2 * c2.P.K
	outPer := h3 * w3 * c3.P.K
	if len(x) < n*inPer {
		panic(fmt.Sprintf("cpu.InvertedResidualForward: x has %d elements, need %d", len(x), n*inPer))
	}
	if len(y) < n*outPer {
		panic(fmt.Sprintf("cpu.InvertedResidualForward: y has %d elements, need %d", len(y), n*outPer))
	}
	for i, c := range []ConvLayer{c1, c2, c3} {
		if len(c.W) < c.P.K*c.P.KH*c.P.KW*(c.P.C/c.P.Groups) || (c.B != nil && len(c.B) < c.P.K) {
			panic(fmt.Sprintf("cpu.InvertedResidualForward: conv%d has %d weights and %d biases for %+v", i+1, len(c.W), len(c.B), c.P))
		}
	}
	// conv2's weights prepared once for every chunk
	var pl *dwPlan
	if up {
		checkUp2x("InvertedResidualForward", c2.P)
	}
	if up || (c2.P.StrideH == 1 && c2.P.StrideW == 1 && c2.P.DilH == 1 && c2.P.DilW == 1) {
		pl = newDWPlan(c2.P, u, c2.W)
		defer pl.release()
	}
	chunk := n
	if inline.Load() > 0 {
		// a few images at a time, the intermediates within half of L2
		chunk = max(1, min(n, (caches.L2/2)/(4*(t1Per+t2Per))))
		// but products of at least irMinRows rows, so that a chunk's GEMMs do not
		// become a few row panels
		chunk = min(n, max(chunk, (irMinRows+h1*w1-1)/(h1*w1)))
	}
	// the weights of 1×1 convolutions packed once for every chunk
	var pk1, pk3 *prepackedB
	if chunk < n {
		if pointwiseGEMM(c1.P) {
			pk1 = prepackB(true, chunk*h1*w1, c1.P.K, c1.P.C, c1.W, c1.P.C)
			defer pk1.release()
		}
		if pointwiseGEMM(c3.P) {
			pk3 = prepackB(true, chunk*h3*w3, c3.P.K, c3.P.C, c3.W, c3.P.C)
			defer pk3.release()
		}
	}
	b1 := getConvScratch(chunk * t1Per)
	b2 := getConvScratch(chunk * t2Per)
	defer putConvScratch(b1)
	defer putConvScratch(b2)
	for i0 := 0; i0 < n; i0 += chunk {
		m := min(chunk, n-i0)
		p1, p2, p3 := c1.P, c2.P, c3.P
		p1.N, p2.N, p3.N = m, m, m
		t1 := (*b1)[:m*t1Per]
		t2 := (*b2)[:m*t2Per]
		xc := x[i0*inPer : (i0+m)*inPer]
		if pk1 != nil {
			sgemmPrepacked(m*h1*w1, xc, p1.C, pk1, t1, p1.K, swishEpilogue(c1.B))
		} else {
			Conv2DForwardSwish(p1, xc, c1.W, c1.B, t1)
		}
		if pl != nil {
			pl.run(m, t1, c2.B, t2, true)
		} else {
			Conv2DForwardSwish(p2, t1, c2.W, c2.B, t2)
		}
		yc := y[i0*outPer : (i0+m)*outPer]
		if pk3 != nil {
			sgemmPrepacked(m*h3*w3, t2, p3.C, pk3, yc, p3.K, biasEpilogue(c3.B, 0))
		} else {
			Conv2DForward(p3, t2, c3.W, c3.B, yc)
		}
	}
}

// irMinRows is the fewest pixels per chunk of InvertedResidualForward.
const irMinRows = 256

// pointwiseGEMM reports a 1×1 convolution that is one plain GEMM (no groups).
func pointwiseGEMM(p ConvParams) bool { return p.isPointwise() && p.Groups == 1 }
