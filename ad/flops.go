package ad

import "sync/atomic"

// flops counts the multiply-add work of the dense products the tape runs
// (convolutions and linear layers, forward and backward), for benchmarks.
var flops atomic.Int64

// FLOPs returns the number of floating-point operations (2 per multiply-add) run by
// convolutions and linear layers, forward and backward, since the program started.
// Element-wise work is not counted. Benchmarks take the difference over a step.
func FLOPs() int64 { return flops.Load() }

// convFLOPs is the work of one pass (forward, data gradient or filter gradient) of a
// convolution: 2 · N·OH·OW · K · KH·KW·C/groups.
func convFLOPs(n, oh, ow, k, kh, kw, cPerGroup int) int64 {
	return 2 * int64(n) * int64(oh) * int64(ow) * int64(k) * int64(kh) * int64(kw) * int64(cPerGroup)
}
