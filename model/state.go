package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nvae-go/nvae/checkpoint"
	"github.com/nvae-go/nvae/tensor"
)

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
// (num_batches_tracked as DType "I64", value in Data[0]).
func (m *Model) StateDict() []checkpoint.Named {
	out := make([]checkpoint.Named, 0, len(m.state))
	for _, e := range m.state {
		n := checkpoint.Named{Name: e.name, Shape: append([]int(nil), e.shape...), DType: checkpoint.F32}
		switch e.kind {
		case kindParam, kindAlias:
			n.Data = toOfficial(e.param.Value, e.layout)
		case kindBuffer:
			n.Data = append([]float32(nil), e.buf.Data()...)
		case kindCount:
			n.DType = checkpoint.I64
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
func (m *Model) LoadStateDict(ts []checkpoint.Named) error {
	byName := make(map[string]*checkpoint.Named, len(ts))
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
func (m *Model) Buffers() []checkpoint.Named {
	var out []checkpoint.Named
	for _, n := range m.StateDict() {
		if strings.HasSuffix(n.Name, ".running_mean") || strings.HasSuffix(n.Name, ".running_var") || strings.HasSuffix(n.Name, ".num_batches_tracked") {
			out = append(out, n)
		}
	}
	return out
}

// GradDict returns every parameter's gradient under its official name and layout.
func (m *Model) GradDict() []checkpoint.Named {
	out := make([]checkpoint.Named, 0, len(m.params))
	for _, e := range m.state {
		if e.kind != kindParam {
			continue
		}
		g := e.param.Grad
		if g == nil {
			g = tensor.New(e.param.Shape()...)
		}
		out = append(out, checkpoint.Named{Name: e.name, Shape: append([]int(nil), e.shape...), DType: "F32", Data: toOfficial(g, e.layout)})
	}
	return out
}

// Masks returns the constant masks of the flow convolutions under their module names, in the
// official OIHW layout (they are not part of the state dict).
func (m *Model) Masks() []checkpoint.Named {
	var out []checkpoint.Named
	for _, e := range m.state {
		if !strings.HasSuffix(e.name, ".weight") || e.layout != layoutConv {
			continue
		}
		for _, c := range m.convs {
			if c.W == e.param && c.Mask != nil {
				out = append(out, checkpoint.Named{Name: strings.TrimSuffix(e.name, ".weight"), Shape: e.shape, DType: "F32",
					Data: tensor.NHWCToNCHW(c.Mask).Data()})
			}
		}
	}
	return out
}
