package nn

// TEMPORARY stub written by the model branch until branch dist lands with nn/spectral.go
// (delete this file at merge time).

import (
	"fmt"
	"math"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/tensor"
)

// SpectralReg holds the power-iteration state per matrix-shape group.
type SpectralReg struct {
	keys []string
	u, v map[string][][]float32 // v in OHWI column order per member
}

// NewSpectralReg returns an empty state.
func NewSpectralReg() *SpectralReg {
	return &SpectralReg{u: map[string][][]float32{}, v: map[string][][]float32{}}
}

func norml(x []float32) {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	n := float32(math.Max(math.Sqrt(s), 1e-3))
	for i := range x {
		x[i] /= n
	}
}

// perm maps PyTorch column j (ci,kh,kw) to OHWI column (kh,kw,ci).
func perm(shape []int) []int {
	kh, kw, ci := shape[1], shape[2], shape[3]
	p := make([]int, kh*kw*ci)
	for c := 0; c < ci; c++ {
		for y := 0; y < kh; y++ {
			for x := 0; x < kw; x++ {
				p[(c*kh+y)*kw+x] = (y*kw+x)*ci + c
			}
		}
	}
	return p
}

// Loss returns Σ u_kᵀ W_k v_k.
func (s *SpectralReg) Loss(tp *ad.Tape, weights []*ad.Var, iters int, draw func(shape ...int) *tensor.Tensor) *ad.Var {
	groups := map[string][]int{}
	var order []string
	for i, w := range weights {
		sh := w.Shape()
		k := fmt.Sprintf("%d,%d", sh[0], w.Value.Len()/sh[0])
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var total *ad.Var
	for _, k := range order {
		mem := groups[k]
		sh0 := weights[mem[0]].Shape()
		rows := sh0[0]
		cols := weights[mem[0]].Value.Len() / rows
		n := len(mem)
		it := iters
		if _, ok := s.u[k]; !ok {
			s.keys = append(s.keys, k)
			u := draw(n, rows).Data()
			v := draw(n, cols).Data()
			us, vs := make([][]float32, n), make([][]float32, n)
			for i, wi := range mem {
				us[i] = append([]float32(nil), u[i*rows:(i+1)*rows]...)
				norml(us[i])
				p := perm(weights[wi].Shape())
				vs[i] = make([]float32, cols)
				for j := 0; j < cols; j++ {
					vs[i][p[j]] = v[i*cols+j]
				}
				norml(vs[i])
			}
			s.u[k], s.v[k] = us, vs
			it = 10 * iters
		}
		for i, wi := range mem {
			W := weights[wi].Data()
			u, v := s.u[k][i], s.v[k][i]
			for r := 0; r < it; r++ {
				for j := range v {
					v[j] = 0
				}
				for a := 0; a < rows; a++ {
					for j := 0; j < cols; j++ {
						v[j] += u[a] * W[a*cols+j]
					}
				}
				norml(v)
				for a := 0; a < rows; a++ {
					var t float32
					for j := 0; j < cols; j++ {
						t += W[a*cols+j] * v[j]
					}
					u[a] = t
				}
				norml(u)
			}
			outer := tensor.New(weights[wi].Shape()...)
			for a := 0; a < rows; a++ {
				for j := 0; j < cols; j++ {
					outer.Data()[a*cols+j] = u[a] * v[j]
				}
			}
			sig := tp.Sum(tp.Mul(weights[wi], ad.Const(outer)), false)
			if total == nil {
				total = sig
			} else {
				total = tp.Add(total, sig)
			}
		}
	}
	return total
}
