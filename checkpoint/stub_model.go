// Package checkpoint: TEMPORARY stub written by the model branch until branch ckpt lands
// (delete this file at merge time).
package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// Named is one tensor of a file, in file order.
type Named struct {
	Name  string
	Shape []int
	DType string
	Data  []float32
}

// File is a parsed safetensors file.
type File struct {
	Tensors  []Named
	Metadata map[string]string
}

// ReadSafetensors reads F32 (and U8/I64 converted) tensors in data-offset order.
func ReadSafetensors(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("checkpoint: %s: too short", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if 8+n > uint64(len(b)) {
		return nil, fmt.Errorf("checkpoint: %s: bad header length", path)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	data := b[8+n:]
	f := &File{Metadata: map[string]string{}}
	if m, ok := hdr["__metadata__"]; ok {
		_ = json.Unmarshal(m, &f.Metadata)
		delete(hdr, "__metadata__")
	}
	type ent struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	var list []struct {
		name string
		e    ent
	}
	for k, raw := range hdr {
		var e ent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("checkpoint: %s: %s: %w", path, k, err)
		}
		list = append(list, struct {
			name string
			e    ent
		}{k, e})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].e.Offsets[0] < list[j].e.Offsets[0] })
	for _, it := range list {
		raw := data[it.e.Offsets[0]:it.e.Offsets[1]]
		var d []float32
		switch it.e.DType {
		case "F32":
			d = make([]float32, len(raw)/4)
			for i := range d {
				d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case "U8":
			d = make([]float32, len(raw))
			for i := range d {
				d[i] = float32(raw[i])
			}
		case "I64":
			d = make([]float32, len(raw)/8)
			for i := range d {
				d[i] = float32(int64(binary.LittleEndian.Uint64(raw[8*i:])))
			}
		default:
			return nil, fmt.Errorf("checkpoint: %s: %s: dtype %s", path, it.name, it.e.DType)
		}
		f.Tensors = append(f.Tensors, Named{Name: it.name, Shape: it.e.Shape, DType: it.e.DType, Data: d})
	}
	return f, nil
}
