package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/nvae-go/nvae/model"
)

// RandNoise is the model's source of standard-normal draws during training and
// sampling: model.RandNoise over a seeded PCG generator whose exact state is saved in
// checkpoints, so a resumed run draws the same noise as an uninterrupted one.
type RandNoise struct {
	model.RandNoise
	src *rand.PCG
}

// NewRandNoise returns a generator seeded with seed.
func NewRandNoise(seed uint64) *RandNoise {
	src := rand.NewPCG(seed, 0x4e564145) // "NVAE"
	return &RandNoise{RandNoise: model.RandNoise{R: rand.New(src)}, src: src}
}

// Rand exposes the underlying generator (for decoder pixel sampling).
func (n *RandNoise) Rand() *rand.Rand { return n.R }

// MarshalBinary saves the generator state.
func (n *RandNoise) MarshalBinary() ([]byte, error) { return n.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (n *RandNoise) UnmarshalBinary(b []byte) error {
	if err := n.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("restoring the noise generator: %w", err)
	}
	return nil
}
