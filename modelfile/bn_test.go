package modelfile

import "testing"

func TestBNTemperature(t *testing.T) {
	meta := map[string]string{}
	SetBNTemperature(meta, 0.6)
	for _, c := range []struct {
		meta map[string]string
		t    float64
		ok   bool
	}{
		{meta, 0.6, true},
		{map[string]string{"bn_readjusted": "temp=0.8 iters=500 batch=16"}, 0.8, true},
		{map[string]string{}, 0, false},
		{map[string]string{MetaBNTemp: "x"}, 0, false},
	} {
		got, ok := (&File{Metadata: c.meta}).BNTemperature()
		if got != c.t || ok != c.ok {
			t.Errorf("%v: got %v, %v; want %v, %v", c.meta, got, ok, c.t, c.ok)
		}
	}
}
