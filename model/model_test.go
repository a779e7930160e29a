package model

import (
	"strings"
	"testing"
)

func TestMNISTPresetCounts(t *testing.T) {
	cfg, err := Preset("mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.NumParams(); got != 33363134 {
		t.Errorf("params = %d, want 33,363,134", got)
	}
	if got := len(m.params); got != 1269 {
		t.Errorf("parameter tensors = %d, want 1269", got)
	}
	keys := m.StateKeys()
	if len(keys) != 2016 {
		t.Errorf("state_dict entries = %d, want 2016", len(keys))
	}
	aliases, bns := 0, 0
	for _, k := range keys {
		if strings.HasSuffix(k, ".weight_normalized") {
			aliases++
		}
		if strings.HasSuffix(k, ".num_batches_tracked") {
			bns++
		}
	}
	if aliases != 105 || bns != 214 {
		t.Errorf("aliases %d (want 105), BN layers %d (want 214)", aliases, bns)
	}
	if len(m.convs) != 255 {
		t.Errorf("convs %d, want 255", len(m.convs))
	}
}
