package model

import (
	"fmt"
	"math/rand/v2"
)

// SeededNoise is RandNoise over a seeded PCG generator whose exact state can be saved
// and restored (MarshalBinary, UnmarshalBinary), so that a resumed training run draws
// the same noise as an uninterrupted one. Rand exposes the same generator for the
// decoder's pixel sampling.
type SeededNoise struct {
	RandNoise
	src *rand.PCG
}

// NewSeededNoise returns a generator seeded with seed.
func NewSeededNoise(seed uint64) *SeededNoise {
	src := rand.NewPCG(seed, 0x4e564145) // "NVAE"
	return &SeededNoise{RandNoise: RandNoise{R: rand.New(src)}, src: src}
}

// Rand exposes the underlying generator (for decoder pixel sampling).
func (n *SeededNoise) Rand() *rand.Rand { return n.R }

// MarshalBinary saves the generator state.
func (n *SeededNoise) MarshalBinary() ([]byte, error) { return n.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (n *SeededNoise) UnmarshalBinary(b []byte) error {
	if err := n.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("restoring the noise generator: %w", err)
	}
	return nil
}
