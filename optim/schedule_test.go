package optim

import (
	"math"
	"testing"
)

func closeRel(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

// TestEpochScheduleMNIST checks the official MNIST schedule: 150 iterations per epoch,
// 5 warm-up epochs (W = 750), 400 epochs, lr 1e-2 → 1e-4 (docs/model.md#learning-rate-schedule, docs/model.md#iterations-per-epoch).
func TestEpochScheduleMNIST(t *testing.T) {
	s := EpochSchedule{LRMax: 1e-2, LRMin: 1e-4, Epochs: 400, WarmupEpochs: 5, ItersPerEpoch: 150}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Warmup() != 750 {
		t.Fatalf("W = %d, want 750", s.Warmup())
	}
	hold := 0.01 * 749 / 750 // 0.009986666666666666
	tmax := 394.0
	cos := func(k float64) float64 { return 1e-4 + (hold-1e-4)*(1+math.Cos(math.Pi*k/tmax))/2 }
	tests := []struct {
		name        string
		step, epoch int
		want        float64
		exact       bool
	}{
		{"step 0", 0, 0, 0, true},
		{"step 1", 1, 0, 0.01 / 750, true},
		{"mid warm-up", 375, 2, 0.005, true},
		{"last warm-up step W-1", 749, 4, 0.009986666666666666, true},
		{"step W, hold epoch", 750, 5, 0.009986666666666666, true},
		{"end of hold epoch", 899, 5, 0.009986666666666666, true},
		{"first cosine epoch", 900, 6, 0.009986509523716797, false},
		{"first cosine epoch, closed form", 1049, 6, cos(1), false},
		{"middle", 200 * 150, 200, cos(195), false},
		{"half way", (5 + 197) * 150, 5 + 197, (hold + 1e-4) / 2, false},
		{"final epoch", 399 * 150, 399, 1e-4, true},
		{"final step", 400*150 - 1, 399, 1e-4, true},
	}
	for _, tc := range tests {
		got := s.LR(tc.step, tc.epoch)
		if tc.exact && got != tc.want || !tc.exact && !closeRel(got, tc.want, 1e-14) {
			t.Errorf("%s: LR(%d, %d) = %.17g, want %.17g", tc.name, tc.step, tc.epoch, got, tc.want)
		}
	}
	// Monotone non-increasing after the warm-up, epoch by epoch.
	prev := math.Inf(1)
	for e := 5; e < 400; e++ {
		lr := s.LR(e*150, e)
		if lr > prev {
			t.Fatalf("LR rises at epoch %d: %v > %v", e, lr, prev)
		}
		prev = lr
	}
}

// TestEpochScheduleVariants covers ImageNet's one warm-up epoch, no warm-up at all,
// an explicit number of warm-up steps, and the quality-check schedule (a 20-step
// warm-up to 1e-2 that holds 9.5e-3 afterwards).
func TestEpochScheduleVariants(t *testing.T) {
	// ImageNet-32: 2224 iterations, 1 warm-up epoch, 45 epochs → Tmax = 43.
	im := EpochSchedule{LRMax: 1e-2, LRMin: 1e-4, Epochs: 45, WarmupEpochs: 1, ItersPerEpoch: 2224}
	if got, want := im.LR(2223, 0), 1e-2*2223/2224; got != want {
		t.Errorf("imagenet last warm-up step: %v, want %v", got, want)
	}
	if got, want := im.LR(2224, 1), 1e-2*2223/2224; got != want {
		t.Errorf("imagenet hold epoch: %v, want %v", got, want)
	}
	if got := im.LR(44*2224, 44); got != 1e-4 {
		t.Errorf("imagenet final epoch: %v, want 1e-4", got)
	}

	// No warm-up: lr_max during epoch 0, cosine from epoch 1 with Tmax = epochs − 1.
	nw := EpochSchedule{LRMax: 1e-2, LRMin: 1e-4, Epochs: 11, ItersPerEpoch: 10}
	if got := nw.LR(0, 0); got != 1e-2 {
		t.Errorf("no warm-up, step 0: %v, want 1e-2", got)
	}
	want := 1e-4 + (1e-2-1e-4)*(1+math.Cos(math.Pi*5/10))/2
	if got := nw.LR(50, 5); !closeRel(got, want, 1e-15) {
		t.Errorf("no warm-up, epoch 5: %v, want %v", got, want)
	}

	// Quality check: 20 warm-up steps given directly, one warm-up epoch of a longer
	// run; after the warm-up the LR holds 9.5e-3 during the hold epoch.
	qc := EpochSchedule{LRMax: 1e-2, LRMin: 1e-4, Epochs: 1, WarmupEpochs: 1, ItersPerEpoch: 132, WarmupSteps: 20}
	for step, want := range map[int]float64{0: 0, 1: 5e-4, 10: 5e-3, 19: 9.5e-3, 20: 9.5e-3, 131: 9.5e-3} {
		if got := qc.LR(step, 0); got != want {
			t.Errorf("quality-check schedule at step %d: %.17g, want %.17g", step, got, want)
		}
	}

	bad := []EpochSchedule{
		{LRMax: -1, Epochs: 1},
		{LRMax: math.NaN(), Epochs: 1},
		{LRMax: 1, Epochs: 0},
		{LRMax: 1, Epochs: 1, WarmupEpochs: -1},
	}
	for i, b := range bad {
		if b.Validate() == nil {
			t.Errorf("bad schedule %d accepted", i)
		}
	}
}

func TestStepSchedule(t *testing.T) {
	// The quality-check schedule: 20 warm-up steps to 1e-2, then held at 9.5e-3.
	qc := StepSchedule{LRMax: 1e-2, LRMin: 1e-4, WarmupSteps: 20}
	if err := qc.Validate(); err != nil {
		t.Fatal(err)
	}
	for step, want := range map[int]float64{0: 0, 1: 5e-4, 19: 9.5e-3, 20: 9.5e-3, 21: 9.5e-3, 1000: 9.5e-3} {
		if got := qc.LR(step, 0); got != want {
			t.Errorf("step %d: %.17g, want %.17g", step, got, want)
		}
	}

	// Warm-up then a per-step cosine: W = 10, T = 111 → cosine over steps 10..110.
	s := StepSchedule{LRMax: 1e-2, LRMin: 1e-4, WarmupSteps: 10, TotalSteps: 111}
	hold := 1e-2 * 9 / 10
	tests := []struct {
		step int
		want float64
	}{
		{0, 0},
		{9, 9e-3},
		{10, hold},
		{11, 1e-4 + (hold-1e-4)*(1+math.Cos(math.Pi/100))/2},
		{60, (hold + 1e-4) / 2},
		{110, 1e-4},
		{500, 1e-4},
	}
	for _, tc := range tests {
		if got := s.LR(tc.step, 99); !closeRel(got, tc.want, 1e-14) && got != tc.want {
			t.Errorf("step %d: %.17g, want %.17g", tc.step, got, tc.want)
		}
	}
	if got := s.LR(110, 0); got != 1e-4 {
		t.Errorf("last step: %v, want exactly 1e-4", got)
	}

	// Without warm-up the cosine starts at LRMax.
	nw := StepSchedule{LRMax: 2e-3, LRMin: 0, TotalSteps: 5}
	for step, want := range map[int]float64{0: 2e-3, 2: 1e-3, 4: 0} {
		if got := nw.LR(step, 0); !closeRel(got, want, 1e-15) && got != want {
			t.Errorf("no warm-up step %d: %v, want %v", step, got, want)
		}
	}
	if (StepSchedule{LRMax: 1, WarmupSteps: -1}).Validate() == nil {
		t.Error("negative warm-up accepted")
	}
	var _ LRScheduler = s
	var _ LRScheduler = EpochSchedule{}
}

// TestItersPerEpoch checks the table of docs/model.md#iterations-per-epoch (iterations per epoch, and the
// derived totals, warm-up iterations and KL anneal iterations).
func TestItersPerEpoch(t *testing.T) {
	tests := []struct {
		name                      string
		n, world, batch           int
		iters, epochs, total      int
		warmupEpochs, warmupIters int
		klAnneal                  float64
	}{
		{"MNIST", 60000, 2, 200, 150, 400, 60000, 5, 750, 18000},
		{"CIFAR-10", 50000, 8, 32, 195, 400, 78000, 5, 975, 23400},
		{"CelebA-64", 162770, 8, 16, 1271, 90, 114390, 5, 6355, 34317},
		{"ImageNet-32", 1281147, 24, 24, 2224, 45, 100080, 1, 2224, 30024},
		{"CelebA-HQ 256", 27000, 24, 4, 281, 300, 84300, 5, 1405, 25290},
		{"FFHQ 256", 63000, 24, 4, 656, 200, 131200, 5, 3280, 39360},
	}
	for _, tc := range tests {
		it := ItersPerEpoch(tc.n, tc.world, tc.batch)
		if it != tc.iters {
			t.Errorf("%s: ItersPerEpoch = %d, want %d", tc.name, it, tc.iters)
			continue
		}
		if T := it * tc.epochs; T != tc.total {
			t.Errorf("%s: total = %d, want %d", tc.name, T, tc.total)
		}
		s := EpochSchedule{LRMax: 1e-2, Epochs: tc.epochs, WarmupEpochs: tc.warmupEpochs, ItersPerEpoch: it}
		if s.Warmup() != tc.warmupIters {
			t.Errorf("%s: warm-up = %d, want %d", tc.name, s.Warmup(), tc.warmupIters)
		}
		kl := KLScheduleFromPortions(KLAnnealPortion, KLConstPortion, KLConstCoeff, tc.total)
		if !closeRel(kl.AnnealSteps, tc.klAnneal, 1e-12) {
			t.Errorf("%s: KL anneal steps = %v, want %v", tc.name, kl.AnnealSteps, tc.klAnneal)
		}
	}
	for _, bad := range [][3]int{{0, 1, 1}, {10, 0, 1}, {10, 1, 0}, {-5, 1, 1}} {
		if got := ItersPerEpoch(bad[0], bad[1], bad[2]); got != 0 {
			t.Errorf("ItersPerEpoch%v = %d, want 0", bad, got)
		}
	}
	// Fewer examples than one batch per process: no full batch.
	if got := ItersPerEpoch(100, 4, 32); got != 0 {
		t.Errorf("ItersPerEpoch(100, 4, 32) = %d, want 0", got)
	}
	if got := ItersPerEpoch(101, 4, 26); got != 1 { // ceil(101/4) = 26
		t.Errorf("ItersPerEpoch(101, 4, 26) = %d, want 1", got)
	}
}
