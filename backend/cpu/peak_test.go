package cpu

import (
	"testing"
	"time"
)

func TestPeakGFLOPS(t *testing.T) {
	g := PeakGFLOPS(20 * time.Millisecond)
	if !(g > 0) {
		t.Fatalf("PeakGFLOPS = %v, want > 0", g)
	}
	t.Logf("peak %.1f GFLOP/s on %d workers", g, Workers())
}

func TestPeakGo(t *testing.T) {
	loop, flops := peakGo, float64(peakGoFlops)
	loop(1000)
	if flops <= 0 || peakSink <= 0 {
		t.Fatalf("peakGo: flops %v, sink %v", flops, peakSink)
	}
}

// BenchmarkPeak reports the measured FMA ceiling (see PeakGFLOPS).
func BenchmarkPeak(b *testing.B) {
	var g float64
	for b.Loop() {
		g = PeakGFLOPS(200 * time.Millisecond)
	}
	b.ReportMetric(g, "GFLOP/s")
}
