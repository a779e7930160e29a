package cpu

import "time"

// PeakGFLOPS measures the float32 multiply-add throughput of this machine with all
// workers of the pool, in GFLOP/s, over about d (plus a warm-up of up to 20ms, so
// that wide vector units are powered up): every worker runs independent FMA chains
// held in registers (the "peak" kernel family: AVX-512 where available, else AVX2,
// else plain Go). Each
// worker's best rate over short slices of d is kept, and the rates are summed, so the
// figure is a ceiling that matrix kernels can be compared with. Other load on the
// machine can only lower it.
func PeakGFLOPS(d time.Duration) float64 {
	pk := peakKernels.get()
	loop, flopsPerIter := pk.loop, pk.flops
	w := Workers()
	const slice = 5 * time.Millisecond
	// Calibrate an inner count that runs for well under a slice.
	iters := 1 << 10
	for {
		t0 := time.Now()
		loop(iters)
		if time.Since(t0) > slice/20 || iters >= 1<<30 {
			break
		}
		iters *= 2
	}
	rates := make([]float64, w) // best rate of each worker, in flop/s
	Parallel(w, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			best := 0.0
			for t0 := time.Now(); time.Since(t0) < min(d, 20*time.Millisecond); {
				loop(iters)
			}
			for start := time.Now(); best == 0 || time.Since(start) < d; {
				t0 := time.Now()
				n := 0
				for time.Since(t0) < slice {
					loop(iters)
					n++
				}
				best = max(best, float64(n*iters)*flopsPerIter/time.Since(t0).Seconds())
			}
			rates[t] = best
		}
	})
	var sum float64
	for _, r := range rates {
		sum += r
	}
	return sum / 1e9
}

// peakVariant is an FMA loop: loop(n) runs n iterations of flops flops each.
type peakVariant struct {
	loop  func(n int)
	flops float64
}

// peakKernels is the family of the FMA loop PeakGFLOPS measures.
var peakKernels = newFamily(FamilyPeak, peakVariant{peakGo, 16})

// peakGo runs n iterations of 8 independent multiply-add chains in plain Go.
func peakGo(n int) {
	x0, x1, x2, x3, x4, x5, x6, x7 := float32(0), float32(0.1), float32(0.2), float32(0.3),
		float32(0.4), float32(0.5), float32(0.6), float32(0.7)
	const m, a = 0.999, 1e-3
	for range n {
		x0 = x0*m + a
		x1 = x1*m + a
		x2 = x2*m + a
		x3 = x3*m + a
		x4 = x4*m + a
		x5 = x5*m + a
		x6 = x6*m + a
		x7 = x7*m + a
	}
	peakSink = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7
}

// peakSink keeps peakGo's results alive.
var peakSink float32
