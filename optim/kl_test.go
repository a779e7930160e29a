package optim

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKLCoeffOfficial checks β for the official MNIST run: T = 60000, so a = 18000
// and c = 6 (docs/model.md#kl-warm-up).
func TestKLCoeffOfficial(t *testing.T) {
	k := KLScheduleFromPortions(KLAnnealPortion, KLConstPortion, KLConstCoeff, 60000)
	if k.AnnealSteps != 18000 || k.ConstSteps != 6 || k.MinCoeff != 1e-4 {
		t.Fatalf("schedule = %+v", k)
	}
	tests := []struct {
		step int
		want float64
	}{
		{0, 1e-4},                // (0−6)/18000 < 0 → floor
		{6, 1e-4},                // 0 → floor
		{7, 1e-4},                // 1/18000 = 5.6e-5 < 1e-4 → floor
		{8, 2.0 / 18000},         // 1.1e-4 > floor
		{9006, 0.5},              // half way
		{18006, 1},               // end of the rise
		{18005, 17999.0 / 18000}, // just before
		{59999, 1},
	}
	for _, tc := range tests {
		if got := k.Beta(tc.step); got != tc.want {
			t.Errorf("β(%d) = %.17g, want %.17g", tc.step, got, tc.want)
		}
	}
	// CelebA-64: T = 114390 → c = 11.439, a = 34317 (kept fractional, as in Python).
	c := KLScheduleFromPortions(0.3, 0.0001, 0.0001, 114390)
	if got, want := c.Beta(1000), (1000-0.0001*114390)/(0.3*114390); got != want {
		t.Errorf("celeba β(1000) = %v, want %v", got, want)
	}
}

func TestKLStepSchedule(t *testing.T) {
	// 100 constant steps at 1e-4, then a rise to 1 over 1000 steps.
	k := KLStepSchedule(100, 1000, 1e-4)
	for step, want := range map[int]float64{0: 1e-4, 99: 1e-4, 100: 1e-4, 101: 1e-3, 300: 0.2, 600: 0.5, 1100: 1, 5000: 1} {
		if got := k.Beta(step); got != want {
			t.Errorf("β(%d) = %v, want %v", step, got, want)
		}
	}
	// No rise at all: β jumps to 1 at the end of the constant phase.
	j := KLStepSchedule(5, 0, 1e-4)
	for step, want := range map[int]float64{0: 1e-4, 4: 1e-4, 5: 1, 6: 1} {
		if got := j.Beta(step); got != want {
			t.Errorf("jump β(%d) = %v, want %v", step, got, want)
		}
	}
}

// TestRegCoeff checks λ(β) with and without annealing (docs/model.md#regularisation-coefficient).
func TestRegCoeff(t *testing.T) {
	fixed := RegCoeff{Lambda: 1e-2, LambdaInit: 10}
	if err := fixed.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, b := range []float64{1e-4, 0.5, 1} {
		if got := fixed.At(b); got != 1e-2 {
			t.Errorf("fixed λ(%v) = %v, want 1e-2", b, got)
		}
	}
	// ImageNet / CelebA-HQ: λ_init = 1, λ = 1e-2.
	an := RegCoeff{Lambda: 1e-2, LambdaInit: 1, Anneal: true}
	if err := an.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		beta, want float64
	}{
		{0, 1},
		{1e-4, math.Pow(1e-2, 1e-4)}, // 0.99953958...
		{0.5, 0.1},
		{1, 1e-2},
	}
	for _, tc := range tests {
		if got := an.At(tc.beta); !closeRel(got, tc.want, 1e-14) {
			t.Errorf("annealed λ(%v) = %.17g, want %.17g", tc.beta, got, tc.want)
		}
	}
	// Defaults λ_init = 10 → λ = 1e-2 at β = 1e-4 (the first step): 10·(1e-3)^1e-4.
	d := RegCoeff{Lambda: 1e-2, LambdaInit: 10, Anneal: true}
	if got, want := d.At(1e-4), 9.9930946300259; !closeRel(got, want, 1e-13) {
		t.Errorf("λ(1e-4) = %.17g, want %.17g", got, want)
	}
	for i, bad := range []RegCoeff{
		{Lambda: 0, LambdaInit: 1, Anneal: true},
		{Lambda: 1e-2, LambdaInit: 0, Anneal: true},
		{Lambda: -1},
	} {
		if bad.Validate() == nil {
			t.Errorf("bad coefficient %d accepted", i)
		}
	}
}

func TestGroupsPerScale(t *testing.T) {
	tests := []struct {
		name       string
		L, G       int
		ada        bool
		minG       int
		want       []int
		wantAlpha  []float32
		alphaCount []int // the α table of docs/model.md#kl-balancing: value v repeated count times
	}{
		{"MNIST", 2, 10, true, 1, []int{10, 5}, nil, []int{1, 5, 2, 10}},
		{"CelebA-64", 3, 20, true, 1, []int{20, 10, 5}, nil, []int{1, 5, 2, 10, 4, 20}},
		{"CelebA-HQ", 5, 16, true, 4, []int{16, 8, 4, 4, 4}, nil, []int{1, 4, 4, 4, 16, 4, 32, 8, 64, 16}},
		{"CIFAR-10", 1, 30, false, 1, []int{30}, nil, []int{1, 30}},
		{"ImageNet-32", 1, 28, false, 1, []int{28}, nil, []int{1, 28}},
		{"no ada", 3, 4, false, 1, []int{4, 4, 4}, nil, []int{1, 4, 4, 4, 16, 4}},
		{"ada to one", 4, 4, true, 1, []int{4, 2, 1, 1}, nil, []int{1, 1, 4, 1, 8, 2, 16, 4}},
		{"vanilla", 1, 1, false, 1, []int{1}, []float32{1}, nil},
		{"F1", 2, 2, true, 1, []int{2, 1}, []float32{1, 2, 2}, nil},
	}
	for _, tc := range tests {
		g, err := GroupsPerScale(tc.L, tc.G, tc.ada, tc.minG)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(g, tc.want) {
			t.Errorf("%s: groups %v, want %v", tc.name, g, tc.want)
		}
		want := tc.wantAlpha
		for i := 0; i < len(tc.alphaCount); i += 2 {
			for range tc.alphaCount[i+1] {
				want = append(want, float32(tc.alphaCount[i]))
			}
		}
		if got := KLBalanceAlpha(g); !slices.Equal(got, want) {
			t.Errorf("%s: α = %v, want %v", tc.name, got, want)
		}
	}
	for _, bad := range [][4]int{{0, 10, 1, 1}, {2, 0, 0, 1}, {4, 4, 1, 0}} {
		if _, err := GroupsPerScale(bad[0], bad[1], bad[2] == 1, bad[3]); err == nil {
			t.Errorf("GroupsPerScale%v accepted", bad)
		}
	}
	if KLBalanceAlpha(nil) != nil {
		t.Error("α of no scales is not nil")
	}
}

// TestKLBalanceAlphaNonPowerOfTwo checks the float32 arithmetic on a case whose
// weights are not exact binary fractions: groups [3, 6] → decoder order [6, 3]:
// float32(1/6) ×6 and float32(4/3) ×3, divided by float32(1/6) in float32.
func TestKLBalanceAlphaNonPowerOfTwo(t *testing.T) {
	got := KLBalanceAlpha([]int{3, 6})
	lo := float32(1.0 / 6)
	hi := float32(4.0/3) / lo
	want := []float32{1, 1, 1, 1, 1, 1, hi, hi, hi}
	if !slices.Equal(got, want) {
		t.Fatalf("α = %v, want %v", got, want)
	}
	if math.Abs(float64(hi)-8) > 1e-6 {
		t.Fatalf("α of the finer scale = %v, want ≈ 8", hi)
	}
}

// readSafetensorsF32 is a minimal test-only reader of one F32 tensor from a
// safetensors file: an 8-byte little-endian header length, a JSON header, raw data.
func readSafetensorsF32(t *testing.T, path, name string) ([]float32, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatalf("%s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		t.Fatalf("%s: header length %d beyond the file", path, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	raw, ok := hdr[name]
	if !ok {
		t.Fatalf("%s: no tensor %q", path, name)
	}
	var info struct {
		Dtype   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatalf("%s: %s: %v", path, name, err)
	}
	data := b[8+n:]
	lo, hi := info.Offsets[0], info.Offsets[1]
	if info.Dtype != "F32" || lo < 0 || hi > len(data) || lo > hi || (hi-lo)%4 != 0 {
		t.Fatalf("%s: %s: unsupported entry %+v", path, name, info)
	}
	out := make([]float32, (hi-lo)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[lo+4*i:]))
	}
	return out, info.Shape
}

// TestKLBalanceAlphaFixtures compares with alpha_i recorded from the official code:
// F1 (L=2, G=2, ada → [2, 1]) and F2 (L=1, G=2 → [2]).
func TestKLBalanceAlphaFixtures(t *testing.T) {
	for _, tc := range []struct {
		file    string
		L, G    int
		ada     bool
		wantLen int
	}{
		{"F1_aux.safetensors", 2, 2, true, 3},
		{"F2_aux.safetensors", 1, 2, false, 2},
	} {
		want, shape := readSafetensorsF32(t, filepath.Join("testdata", tc.file), "alpha_i")
		if len(want) != tc.wantLen || !slices.Equal(shape, []int{tc.wantLen}) {
			t.Fatalf("%s: alpha_i has shape %v", tc.file, shape)
		}
		g, err := GroupsPerScale(tc.L, tc.G, tc.ada, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := KLBalanceAlpha(g); !slices.Equal(got, want) {
			t.Errorf("%s: α = %v, fixture %v", tc.file, got, want)
		}
	}
}
