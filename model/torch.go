package model

import (
	"fmt"

	"github.com/nvae-go/nvae/checkpoint"
)

// FromTorch builds the model of an official checkpoint.pt (read with
// checkpoint.ReadTorch): the configuration from its argparse namespace (with the
// official evaluation fallbacks for older checkpoints) and the weights and buffers from
// its state_dict, strictly (alias keys must equal their twins; missing, unexpected or
// mis-shaped keys are reported by name).
func FromTorch(ck *checkpoint.TorchCheckpoint) (*Model, error) {
	if ck.Args == nil {
		return nil, fmt.Errorf("model: checkpoint has no 'args' namespace to build the model from")
	}
	cfg, err := ConfigFromArgs(ck.Args)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, uint64(max(cfg.Seed, 0)))
	if err != nil {
		return nil, err
	}
	if err := m.LoadStateDict(ck.StateDict); err != nil {
		return nil, err
	}
	return m, nil
}
