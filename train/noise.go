package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/nvae-go/nvae/tensor"
)

// RandNoise is the model's source of standard-normal draws during training and
// sampling: a seeded PCG generator whose exact state is saved in checkpoints, so a
// resumed run draws the same noise as an uninterrupted one.
type RandNoise struct {
	src *rand.PCG
	rng *rand.Rand
}

// NewRandNoise returns a generator seeded with seed.
func NewRandNoise(seed uint64) *RandNoise {
	src := rand.NewPCG(seed, 0x4e564145) // "NVAE"
	return &RandNoise{src: src, rng: rand.New(src)}
}

// Normal returns a tensor of independent N(0, 1) draws.
func (n *RandNoise) Normal(shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	d := t.Data()
	for i := range d {
		d[i] = float32(n.rng.NormFloat64())
	}
	return t
}

// Rand exposes the underlying generator (for decoder pixel sampling).
func (n *RandNoise) Rand() *rand.Rand { return n.rng }

// MarshalBinary saves the generator state.
func (n *RandNoise) MarshalBinary() ([]byte, error) { return n.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (n *RandNoise) UnmarshalBinary(b []byte) error {
	if err := n.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("restoring the noise generator: %w", err)
	}
	return nil
}
