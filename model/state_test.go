package model

import (
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/nn"
	"github.com/nvae-go/nvae/tensor"
)

func newTiny(t *testing.T) *Model {
	t.Helper()
	cfg, err := Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// spectralGroups returns two groups of power-iteration vectors with distinct values.
func spectralGroups() []nn.SpectralGroup {
	fill := func(n ...int) *tensor.Tensor {
		x := tensor.New(n...)
		for i := range x.Data() {
			x.Data()[i] = float32(i+1) / 7
		}
		return x
	}
	return []nn.SpectralGroup{
		{Rows: 3, Cols: 4, U: fill(2, 3), V: fill(2, 4)},
		{Rows: 5, Cols: 2, U: fill(1, 5), V: fill(1, 2)},
	}
}

// TestSpectralStateRoundTrip: SpectralState names and shapes the vectors, and
// SetSpectralState on another model restores them exactly, picking its pairs out of a
// mixed list, stopping at the first incomplete pair, and rejecting inconsistent shapes
// without touching the current state.
func TestSpectralStateRoundTrip(t *testing.T) {
	src := newTiny(t)
	if len(src.SpectralState()) != 0 {
		t.Fatalf("a fresh model has spectral state %v", src.SpectralState())
	}
	if err := src.Spectral().SetGroups(spectralGroups()); err != nil {
		t.Fatal(err)
	}
	st := src.SpectralState()
	var names []string
	for _, e := range st {
		names = append(names, e.Name)
	}
	if want := []string{"spectral.0.u", "spectral.0.v", "spectral.1.u", "spectral.1.v"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if !slices.Equal(st[0].Shape, []int{2, 3}) || !slices.Equal(st[3].Shape, []int{1, 2}) {
		t.Fatalf("shapes %v, %v", st[0].Shape, st[3].Shape)
	}

	same := func(m *Model, want []nn.SpectralGroup) bool {
		got := m.Spectral().Groups()
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i].Rows != want[i].Rows || got[i].Cols != want[i].Cols ||
				!slices.Equal(got[i].U.Data(), want[i].U.Data()) || !slices.Equal(got[i].V.Data(), want[i].V.Data()) {
				return false
			}
		}
		return true
	}
	mixed := append([]NamedTensor{{Name: "adamax.exp_avg.x", Shape: []int{1}, Data: []float32{9}}}, st...)
	broken := slices.Clone(st)
	broken[2] = NamedTensor{Name: "spectral.1.u", Shape: []int{1, 5}, Data: []float32{1}} // data does not fill the shape
	cases := []struct {
		name    string
		in      []NamedTensor
		want    []nn.SpectralGroup
		wantErr string
	}{
		{"all", st, spectralGroups(), ""},
		{"mixed with other entries", mixed, spectralGroups(), ""},
		{"stops at a malformed pair", broken, spectralGroups()[:1], ""},
		{"none", nil, nil, ""},
		{"inconsistent", []NamedTensor{
			{Name: "spectral.0.u", Shape: []int{2, 3}, Data: make([]float32, 6)},
			{Name: "spectral.0.v", Shape: []int{1, 4}, Data: make([]float32, 4)},
		}, spectralGroups(), "spectral"},
	}
	for _, c := range cases {
		dst := newTiny(t)
		if err := dst.Spectral().SetGroups(spectralGroups()); err != nil {
			t.Fatal(err)
		}
		err := dst.SetSpectralState(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want one mentioning %q", c.name, err, c.wantErr)
			}
		} else if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !same(dst, c.want) {
			t.Errorf("%s: state %+v, want %+v", c.name, dst.Spectral().Groups(), c.want)
		}
	}
}

// TestSeededNoise: equal seeds draw equally, and a saved generator state resumes the
// exact sequence in another generator; a corrupt state is an error.
func TestSeededNoise(t *testing.T) {
	a, b := NewSeededNoise(3), NewSeededNoise(3)
	if !slices.Equal(a.Normal(5).Data(), b.Normal(5).Data()) {
		t.Fatal("equal seeds drew differently")
	}
	a.Normal(7)
	a.Rand().Float64()
	state, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := NewSeededNoise(99)
	if err := c.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Normal(6).Data(), c.Normal(6).Data()) || a.Rand().Uint64() != c.Rand().Uint64() {
		t.Fatal("the restored generator does not continue the sequence")
	}
	if err := c.UnmarshalBinary([]byte("junk")); err == nil {
		t.Fatal("corrupt state accepted")
	}
	var _ Noise = a
}

// TestStateDictCounters: the batch-norm counters are the Int entries of the state
// dict, and load back.
func TestStateDictCounters(t *testing.T) {
	m := newTiny(t)
	m.BatchNorms()[0].NumBatches = 12
	sd := m.StateDict()
	ints := 0
	for _, e := range sd {
		if e.Int != strings.HasSuffix(e.Name, ".num_batches_tracked") {
			t.Fatalf("%s: Int = %v", e.Name, e.Int)
		}
		if e.Int {
			ints++
		}
	}
	if ints != len(m.BatchNorms()) {
		t.Fatalf("%d integer entries, %d batch norms", ints, len(m.BatchNorms()))
	}
	m2 := newTiny(t)
	if err := m2.LoadStateDict(sd); err != nil {
		t.Fatal(err)
	}
	if m2.BatchNorms()[0].NumBatches != 12 {
		t.Fatalf("counter loaded as %d, want 12", m2.BatchNorms()[0].NumBatches)
	}
}
