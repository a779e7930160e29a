package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nvae-go/nvae/nn"
	"github.com/nvae-go/nvae/tensor"
)

// NamedTensor is one entry of the model's state as the official code names and lays it
// out: the state_dict key, the shape in PyTorch's layout (NCHW activations, OIHW
// convolution weights) and the values. Int marks integer-valued entries (the batch-norm
// counters num_batches_tracked, int64 in the official files). The model knows no file
// format; package modelfile reads and writes these.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
	Int   bool
}

// toOfficial converts an engine tensor's data to the official layout.
func toOfficial(t *tensor.Tensor, l layout) []float32 {
	switch l {
	case layoutConv, layoutCHW:
		return tensor.NHWCToNCHW(t).Data()
	}
	return append([]float32(nil), t.Data()...)
}

// fromOfficial copies official-layout data into the engine tensor t.
func fromOfficial(t *tensor.Tensor, d []float32, l layout) {
	switch l {
	case layoutConv, layoutCHW:
		s := t.Shape()
		src := tensor.FromData(d, s[0], s[3], s[1], s[2])
		copy(t.Data(), tensor.NCHWToNHWC(src).Data())
	default:
		copy(t.Data(), d)
	}
}

// StateKeys lists the official state_dict keys in order (with aliases and BN buffers).
func (m *Model) StateKeys() []string {
	k := make([]string, len(m.state))
	for i, e := range m.state {
		k[i] = e.name
	}
	return k
}

// StateDict returns the official state_dict: every parameter (NCHW/OIHW layouts), the
// `weight_normalized` aliases of the non-normalised convolutions, and the BN buffers
// (num_batches_tracked with Int set, value in Data[0]).
func (m *Model) StateDict() []NamedTensor {
	out := make([]NamedTensor, 0, len(m.state))
	for _, e := range m.state {
		n := NamedTensor{Name: e.name, Shape: append([]int(nil), e.shape...)}
		switch e.kind {
		case kindParam, kindAlias:
			n.Data = toOfficial(e.param.Value, e.layout)
		case kindBuffer:
			n.Data = append([]float32(nil), e.buf.Data()...)
		case kindCount:
			n.Int = true
			n.Data = []float32{float32(e.bn.NumBatches)}
		}
		out = append(out, n)
	}
	return out
}

// LoadStateDict loads an official state_dict strictly: every parameter and running buffer must
// be present with its official shape and no unknown key may appear. The `weight_normalized`
// aliases and `num_batches_tracked` may be absent. On error nothing is changed and the message
// lists the first mismatches. Data-dependent initialisation re-runs after loading, as in the
// official code.
func (m *Model) LoadStateDict(ts []NamedTensor) error {
	byName := make(map[string]*NamedTensor, len(ts))
	for i := range ts {
		byName[ts[i].Name] = &ts[i]
	}
	known := make(map[string]bool, len(m.state))
	var problems []string
	for _, e := range m.state {
		known[e.name] = true
		t, ok := byName[e.name]
		if !ok {
			if e.kind == kindParam || e.kind == kindBuffer {
				problems = append(problems, "missing "+e.name)
			}
			continue
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if !slices.Equal(t.Shape, e.shape) || n != len(t.Data) {
			problems = append(problems, fmt.Sprintf("%s: shape %v, want %v", e.name, t.Shape, e.shape))
			continue
		}
		if e.kind == kindAlias {
			// An alias must hold the same values as its twin <prefix>.weight.
			twin, ok := byName[strings.TrimSuffix(e.name, "_normalized")]
			if ok && !slices.Equal(twin.Data, t.Data) {
				problems = append(problems, fmt.Sprintf("%s differs from its twin %s", e.name, twin.Name))
			}
		}
	}
	for _, t := range ts {
		if !known[t.Name] {
			problems = append(problems, "unexpected "+t.Name)
		}
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > 10 {
			more = fmt.Sprintf(" (and %d more)", len(problems)-10)
			problems = problems[:10]
		}
		return fmt.Errorf("model: state dict does not match the model: %s%s", strings.Join(problems, "; "), more)
	}
	for _, e := range m.state {
		t, ok := byName[e.name]
		if !ok {
			continue
		}
		switch e.kind {
		case kindParam:
			fromOfficial(e.param.Value, t.Data, e.layout)
		case kindBuffer:
			copy(e.buf.Data(), t.Data)
		case kindCount:
			e.bn.NumBatches = int64(t.Data[0])
		}
	}
	for _, c := range m.convs {
		if c.DataInit {
			c.ResetDataInit()
		}
	}
	return nil
}

// Buffers returns the BN running statistics and counters in official order and layout.
func (m *Model) Buffers() []NamedTensor {
	var out []NamedTensor
	for _, n := range m.StateDict() {
		if strings.HasSuffix(n.Name, ".running_mean") || strings.HasSuffix(n.Name, ".running_var") || strings.HasSuffix(n.Name, ".num_batches_tracked") {
			out = append(out, n)
		}
	}
	return out
}

// GradDict returns every parameter's gradient under its official name and layout.
func (m *Model) GradDict() []NamedTensor {
	out := make([]NamedTensor, 0, len(m.params))
	for _, e := range m.state {
		if e.kind != kindParam {
			continue
		}
		g := e.param.Grad
		if g == nil {
			g = tensor.New(e.param.Shape()...)
		}
		out = append(out, NamedTensor{Name: e.name, Shape: append([]int(nil), e.shape...), Data: toOfficial(g, e.layout)})
	}
	return out
}

// Masks returns the constant masks of the flow convolutions under their module names, in the
// official OIHW layout (they are not part of the state dict).
func (m *Model) Masks() []NamedTensor {
	var out []NamedTensor
	for _, e := range m.state {
		if !strings.HasSuffix(e.name, ".weight") || e.layout != layoutConv {
			continue
		}
		for _, c := range m.convs {
			if c.W == e.param && c.Mask != nil {
				out = append(out, NamedTensor{Name: strings.TrimSuffix(e.name, ".weight"), Shape: e.shape,
					Data: tensor.NHWCToNCHW(c.Mask).Data()})
			}
		}
	}
	return out
}

// BatchNorms returns every batch-norm layer in registration order (for saving and
// restoring running statistics, e.g. around a training step that turns out non-finite).
func (m *Model) BatchNorms() []*nn.BN { return m.bns }

// SpectralState returns the spectral regulariser's power-iteration vectors (not part of
// the official state_dict; empty before the first Loss call), one pair per matrix-shape
// group in order: "spectral.<i>.u" [n, rows] and "spectral.<i>.v" [n, cols], v in
// PyTorch's OIHW column order. Saving them lets a resumed run continue bit-exactly.
func (m *Model) SpectralState() []NamedTensor {
	var out []NamedTensor
	for i, g := range m.sr.Groups() {
		out = append(out,
			NamedTensor{Name: fmt.Sprintf("spectral.%d.u", i), Shape: slices.Clone(g.U.Shape()), Data: g.U.Data()},
			NamedTensor{Name: fmt.Sprintf("spectral.%d.v", i), Shape: slices.Clone(g.V.Shape()), Data: g.V.Data()})
	}
	return out
}

// SetSpectralState restores vectors saved by SpectralState: it takes the
// "spectral.<i>.u"/"spectral.<i>.v" pairs of ts for i = 0, 1, … up to the first missing
// or malformed pair (other entries are ignored) and replaces the regulariser's state
// with them (copied). Inconsistent shapes are an error and leave the state unchanged.
func (m *Model) SetSpectralState(ts []NamedTensor) error {
	byName := make(map[string]NamedTensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	matrix := func(name string) (*tensor.Tensor, bool) {
		t, ok := byName[name]
		if !ok || len(t.Shape) != 2 || t.Shape[0] < 0 || t.Shape[1] < 0 || t.Shape[0]*t.Shape[1] != len(t.Data) {
			return nil, false
		}
		return tensor.FromData(t.Data, t.Shape...), true
	}
	var groups []nn.SpectralGroup
	for i := 0; ; i++ {
		u, ok1 := matrix(fmt.Sprintf("spectral.%d.u", i))
		v, ok2 := matrix(fmt.Sprintf("spectral.%d.v", i))
		if !ok1 || !ok2 {
			break
		}
		groups = append(groups, nn.SpectralGroup{Rows: u.Dim(1), Cols: v.Dim(1), U: u, V: v})
	}
	if err := m.sr.SetGroups(groups); err != nil {
		return fmt.Errorf("model: restoring the spectral regulariser: %w", err)
	}
	return nil
}
