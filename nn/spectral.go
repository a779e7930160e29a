// Package nn holds NVAE's layers and the regularisers that act on their weights.
package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/tensor"
)

// snEps is the floor of the norm in the power iteration's normalisation
// (F.normalize(..., eps=1e-3) in the official code).
const snEps = 1e-3

// SpectralReg holds the persistent power-iteration state of NVAE's spectral
// regularisation (docs/model.md#spectral-regularisation): vectors u and v for every weight matrix, grouped by
// matrix shape. The official code keeps this state out of its checkpoints; our run
// checkpoints save it (docs/numerics.md#deviations).
// A SpectralReg is used by one goroutine at a time.
type SpectralReg struct {
	groups  []*snGroup
	byShape map[[2]int]*snGroup
	scratch [][]float64 // per worker: the float64 accumulator of Wᵀu
}

// snGroup is the state of the weights sharing one matrix shape.
type snGroup struct {
	rows, cols int
	u, v       [][]float32 // per member; v in the engine's OHWI column order
	perm       [][]int     // per member: perm[q] = PyTorch column of our column q (nil: identity)
}

// SpectralGroup is the power-iteration state of one matrix-shape group, for tests
// and diagnostics.
type SpectralGroup struct {
	Rows, Cols int
	U          *tensor.Tensor // [n, rows]
	V          *tensor.Tensor // [n, cols] in PyTorch's OIHW column order (Cin, KH, KW)
}

// NewSpectralReg returns a regulariser with no state; the first Loss call draws it.
func NewSpectralReg() *SpectralReg { return &SpectralReg{byShape: map[[2]int]*snGroup{}} }

// matShape views a weight as a matrix [shape[0], rest].
func matShape(shape []int) [2]int {
	if len(shape) < 2 {
		panic(fmt.Sprintf("nn.SpectralReg: weight of shape %v is not a matrix", shape))
	}
	return [2]int{shape[0], tensor.Numel(shape[1:])}
}

// ohwiPerm maps the columns of an OHWI weight [O,KH,KW,I] viewed as a matrix to the
// columns of the same weight in PyTorch's OIHW layout: our column (kh·KW + kw)·I + i
// is PyTorch's column i·KH·KW + kh·KW + kw. Other ranks keep their order (nil).
func ohwiPerm(shape []int) []int {
	if len(shape) != 4 {
		return nil
	}
	kh, kw, ci := shape[1], shape[2], shape[3]
	perm := make([]int, kh*kw*ci)
	for y := range kh {
		for x := range kw {
			for i := range ci {
				perm[(y*kw+x)*ci+i] = i*kh*kw + y*kw + x
			}
		}
	}
	return perm
}

// normalize scales x to unit norm, dividing by max(‖x‖, 1e-3).
func normalize(x []float32) {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	n := float32(max(math.Sqrt(s), snEps))
	for i := range x {
		x[i] /= n
	}
}

// Loss returns Σ_k σ_k with σ_k = u_kᵀ W_k v_k over the given effective weights (each
// OHWI [Cout,KH,KW,Cin/g], viewed as the matrix [Cout, KH·KW·Cin/g]; other ranks
// are viewed as [shape[0], rest]). Weights are grouped by matrix shape in order of
// first appearance. The first time a group is seen (or when its number of members
// changed), u and v are drawn with draw — standard normal, u as [n,rows] and then v
// as [n,cols] with v's columns in PyTorch's OIHW order — normalised, and 10·iters
// power iterations run; later calls run iters iterations from the stored state. One
// iteration is v ← normalize(Wᵀu), u ← normalize(W v). Gradients flow only through
// the weights (u and v are constants). draw may be nil when no group is new.
func (s *SpectralReg) Loss(tp *ad.Tape, weights []*ad.Var, iters int, draw func(shape ...int) *tensor.Tensor) *ad.Var {
	type member struct {
		g *snGroup
		k int // index within the group
		w *ad.Var
	}
	var order [][2]int
	count := map[[2]int]int{}
	for _, w := range weights {
		key := matShape(w.Shape())
		if count[key] == 0 {
			order = append(order, key)
		}
		count[key]++
	}
	members := make([]member, 0, len(weights))
	next := map[[2]int]int{}
	its := map[*snGroup]int{}
	for _, key := range order {
		g := s.byShape[key]
		n := count[key]
		if g == nil || len(g.u) != n {
			if g == nil {
				g = &snGroup{rows: key[0], cols: key[1]}
				s.byShape[key] = g
				s.groups = append(s.groups, g)
			}
			g.u = drawRows(draw, n, key[0])
			g.v = drawRows(draw, n, key[1])
			g.perm = make([][]int, n)
			its[g] = 10 * iters
		} else {
			its[g] = iters
		}
	}
	for _, w := range weights {
		key := matShape(w.Shape())
		g := s.byShape[key]
		k := next[key]
		next[key]++
		// A freshly drawn v is in PyTorch order (perm nil); a member whose layout
		// changed is converted through PyTorch order too.
		if perm := ohwiPerm(w.Shape()); !slices.Equal(perm, g.perm[k]) {
			g.v[k] = permuteFrom(permuteTo(g.v[k], g.perm[k]), perm)
			g.perm[k] = perm
		}
		members = append(members, member{g: g, k: k, w: w})
	}
	sig := make([]float64, len(members))
	sizes := make([]int, len(members))
	maxCols := 0
	for i, m := range members {
		sizes[i] = m.w.Value.Len()
		maxCols = max(maxCols, m.g.cols+m.g.rows)
	}
	parts := balance(sizes, cpu.Workers())
	for len(s.scratch) < len(parts) {
		s.scratch = append(s.scratch, nil)
	}
	cpu.Parallel(len(parts), 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			if cap(s.scratch[p]) < maxCols {
				s.scratch[p] = make([]float64, maxCols)
			}
			for i := parts[p][0]; i < parts[p][1]; i++ {
				m := members[i]
				u, v := m.g.u[m.k], m.g.v[m.k]
				w := m.w.Data()
				acc := s.scratch[p][:len(v)]
				wv := s.scratch[p][len(v) : len(v)+len(u)]
				for range its[m.g] {
					matTVec(v, w, u, acc)
					normalize(v)
					matVec(u, w, v, wv)
					normalize(u)
				}
				if its[m.g] == 0 {
					matVec(make([]float32, len(u)), w, v, wv)
				}
				// σ = uᵀ(W v) with the products W v of the last iteration
				for r, ur := range u {
					sig[i] += float64(ur) * wv[r]
				}
			}
		}
	})
	total := 0.0
	for _, v := range sig {
		total += v
	}
	inputs := make([]*ad.Var, len(members))
	for i, m := range members {
		inputs[i] = m.w
	}
	out := tp.Custom([]int{}, inputs, func(g []float32, grad func(int) []float32) {
		grads := make([][]float32, len(members))
		seen := map[*ad.Var]bool{}
		bparts := parts
		for i, m := range members {
			grads[i] = grad(i)
			if seen[m.w] {
				bparts = [][2]int{{0, len(members)}} // a weight listed twice: accumulate serially
			}
			seen[m.w] = true
		}
		cpu.Parallel(len(bparts), 1, func(plo, phi int) {
			for i := bparts[plo][0]; i < bparts[phi-1][1]; i++ {
				gw := grads[i]
				if gw == nil {
					continue
				}
				m := members[i]
				u, v := m.g.u[m.k], m.g.v[m.k]
				for r, ur := range u {
					cpu.AxpyF32(g[0]*ur, v, gw[r*len(v):(r+1)*len(v)])
				}
			}
		})
	})
	out.Data()[0] = float32(total)
	return out
}

// balance splits the items 0..len(sizes)-1 into at most n consecutive ranges of
// about equal total size.
func balance(sizes []int, n int) [][2]int {
	total := 0
	for _, z := range sizes {
		total += z
	}
	parts := make([][2]int, 0, n)
	start, acc := 0, 0
	for i, z := range sizes {
		acc += z
		if len(parts) < n-1 && acc*n >= total*(len(parts)+1) {
			parts = append(parts, [2]int{start, i + 1})
			start = i + 1
		}
	}
	if start < len(sizes) || len(parts) == 0 {
		parts = append(parts, [2]int{start, len(sizes)})
	}
	return parts
}

// drawRows draws an [n,size] standard-normal block and normalises its rows.
func drawRows(draw func(shape ...int) *tensor.Tensor, n, size int) [][]float32 {
	t := draw(n, size)
	if t.Len() != n*size {
		panic(fmt.Sprintf("nn.SpectralReg: draw returned %v, want [%d %d]", t.Shape(), n, size))
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = append([]float32(nil), t.Data()[i*size:(i+1)*size]...)
		normalize(rows[i])
	}
	return rows
}

// permuteFrom converts a vector in PyTorch column order to the order of perm (nil:
// identity).
func permuteFrom(pt []float32, perm []int) []float32 {
	if perm == nil {
		return pt
	}
	out := make([]float32, len(pt))
	for q, p := range perm {
		out[q] = pt[p]
	}
	return out
}

// permuteTo converts a vector in the order of perm (nil: identity) to PyTorch
// column order.
func permuteTo(v []float32, perm []int) []float32 {
	if perm == nil {
		return v
	}
	out := make([]float32, len(v))
	for q, p := range perm {
		out[p] = v[q]
	}
	return out
}

// matTVec sets v = Wᵀu for the row-major matrix w [len(u), len(v)], accumulating in
// acc (len(v)) in float64.
func matTVec(v, w, u []float32, acc []float64) {
	clear(acc)
	n := len(v)
	for r, ur := range u {
		cpu.AxpyF64(float64(ur), w[r*n:(r+1)*n], acc)
	}
	for c := range v {
		v[c] = float32(acc[c])
	}
}

// matVec sets u = W v for the row-major matrix w [len(u), len(v)], keeping the
// float64 products in wv (len(u)).
func matVec(u, w, v []float32, wv []float64) {
	n := len(v)
	for r := range u {
		wv[r] = cpu.DotF64(w[r*n:(r+1)*n], v)
		u[r] = float32(wv[r])
	}
}

// Groups returns a copy of the state, one entry per matrix shape in order of first
// appearance, with v converted to PyTorch's OIHW column order.
func (s *SpectralReg) Groups() []SpectralGroup {
	out := make([]SpectralGroup, len(s.groups))
	for gi, g := range s.groups {
		n := len(g.u)
		u, v := tensor.New(n, g.rows), tensor.New(n, g.cols)
		for k := range n {
			copy(u.Data()[k*g.rows:], g.u[k])
			copy(v.Data()[k*g.cols:], permuteTo(g.v[k], g.perm[k]))
		}
		out[gi] = SpectralGroup{Rows: g.rows, Cols: g.cols, U: u, V: v}
	}
	return out
}

// SetGroups replaces the state with groups as returned by Groups (for resuming a run
// exactly). Shapes are checked; the vectors are copied.
func (s *SpectralReg) SetGroups(groups []SpectralGroup) error {
	fresh := NewSpectralReg()
	for i, sg := range groups {
		if sg.Rows < 1 || sg.Cols < 1 || sg.U == nil || sg.V == nil || sg.U.Rank() != 2 || sg.V.Rank() != 2 ||
			sg.U.Dim(1) != sg.Rows || sg.V.Dim(1) != sg.Cols || sg.U.Dim(0) != sg.V.Dim(0) {
			return fmt.Errorf("spectral state group %d: inconsistent shapes (rows %d, cols %d)", i, sg.Rows, sg.Cols)
		}
		key := [2]int{sg.Rows, sg.Cols}
		if fresh.byShape[key] != nil {
			return fmt.Errorf("spectral state group %d: shape %v appears twice", i, key)
		}
		n := sg.U.Dim(0)
		g := &snGroup{rows: sg.Rows, cols: sg.Cols, u: make([][]float32, n), v: make([][]float32, n), perm: make([][]int, n)}
		for k := range n {
			g.u[k] = slices.Clone(sg.U.Data()[k*sg.Rows : (k+1)*sg.Rows])
			g.v[k] = slices.Clone(sg.V.Data()[k*sg.Cols : (k+1)*sg.Cols])
		}
		fresh.byShape[key] = g
		fresh.groups = append(fresh.groups, g)
	}
	*s = *fresh
	return nil
}
