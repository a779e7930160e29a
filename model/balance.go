package model

import (
	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/dist"
)

func klBalance(tp *ad.Tape, klAll []*ad.Var, klCoeff float32, alpha []float32) (*ad.Var, []float32, []float32) {
	return dist.KLBalance(tp, klAll, klCoeff, alpha)
}
