package model

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// TestDecodePartial: no fixed groups is Sample with the same noise, all fixed is
// Decode, and bad latents are errors.
func TestDecodePartial(t *testing.T) {
	cfg, _ := Preset("tiny_mnist")
	m, err := New(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	noise := func() Noise { return RandNoise{rand.New(rand.NewPCG(3, 3))} }
	tp := ad.NewNoGradTape()
	defer tp.Release()
	s := m.Sample(tp, 2, 0.8, noise())
	p, err := m.DecodePartial(tp, 2, 0.8, nil, noise())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Logits.Data(), p.Logits.Data()) {
		t.Error("DecodePartial with no fixed groups differs from Sample")
	}
	var zs []*tensor.Tensor
	for _, z := range s.ZDec {
		zs = append(zs, z.Value)
	}
	d, err := m.Decode(tp, zs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.DecodePartial(tp, 2, 0.3, zs, noise())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Logits.Data(), a.Logits.Data()) {
		t.Error("DecodePartial with every group fixed differs from Decode")
	}
	// fixing the first group only: that latent is used as given
	h, err := m.DecodePartial(tp, 2, 1, zs[:1], noise())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.ZDec[0].Data(), zs[0].Data()) || slices.Equal(h.ZDec[1].Data(), zs[1].Data()) {
		t.Error("DecodePartial with one fixed group: wrong latents")
	}
	for name, f := range map[string]func() error{
		"n 0": func() error { _, err := m.DecodePartial(tp, 0, 1, nil, noise()); return err },
		"too many": func() error {
			_, err := m.DecodePartial(tp, 2, 1, append(slices.Clone(zs), zs[0]), noise())
			return err
		},
		"bad shape":  func() error { _, err := m.DecodePartial(tp, 3, 1, zs[:1], noise()); return err },
		"nil latent": func() error { _, err := m.DecodePartial(tp, 2, 1, []*tensor.Tensor{nil}, noise()); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
