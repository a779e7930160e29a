package model

import "github.com/nvae-go/nvae/nn"

// BatchNorms returns every batch-norm layer in registration order (for saving and
// restoring running statistics, e.g. around a training step that turns out non-finite).
func (m *Model) BatchNorms() []*nn.BN { return m.bns }
