package modelfile

import (
	"fmt"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensorfile"
)

// FromTorch builds the model of an official checkpoint.pt (read with
// tensorfile.ReadTorch): the configuration from its argparse namespace
// (model.ConfigFromArgs, with the official evaluation fallbacks for older
// checkpoints) and the weights and buffers from its state_dict, strictly (alias keys
// must equal their twins; missing, unexpected or mis-shaped keys are reported by name).
func FromTorch(ck *tensorfile.TorchFile) (*model.Model, error) {
	if ck.Args == nil {
		return nil, fmt.Errorf("modelfile: checkpoint has no 'args' namespace to build the model from")
	}
	cfg, err := model.ConfigFromArgs(ck.Args)
	if err != nil {
		return nil, err
	}
	m, err := model.New(cfg, uint64(max(cfg.Seed, 0)))
	if err != nil {
		return nil, err
	}
	if err := m.LoadStateDict(ModelTensors(ck.StateDict)); err != nil {
		return nil, err
	}
	return m, nil
}
