//go:build !amd64

package cpu

// peakLoop returns the portable FMA loop and its flops per iteration.
func peakLoop() (func(n int), float64) { return peakGo, peakGoFlops }
