// Package modelfile owns a model on disk. A model file is one safetensors file:
// the model's state_dict under the official names and layouts (readable on its own
// by any safetensors reader), its configuration as JSON in the metadata entry
// "config", and optionally extra tensors and metadata stored beside it (a training
// run keeps its run state there: optimizer moments, spectral vectors, progress).
// Load also reads NVIDIA's checkpoint.pt files (torch.save archives) directly.
//
// Package model knows no file format; package tensorfile knows no model. This
// package joins them.
package modelfile

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensorfile"
)

// RunFile is the name of the model file in a run directory.
const RunFile = "checkpoint.safetensors"

// formatTag is the "format" metadata entry of the files Save writes.
const formatTag = "nvae-go checkpoint v1"

// ExtraPrefixes are the name prefixes that mark a stored tensor as an extra (not
// part of the model's state_dict): "adamax." for optimizer moments and "spectral."
// for the spectral regulariser's vectors (model.SpectralState). Save accepts
// extras under these prefixes only, so that Read can tell them apart.
var ExtraPrefixes = []string{"adamax.", "spectral."}

// File is a model file read back from disk.
type File struct {
	// Path is the file that was read.
	Path string
	// Config is the model configuration stored in the metadata.
	Config model.Config
	// State holds the model's state_dict entries in file order.
	State []model.NamedTensor
	// Extra holds the tensors stored beside the state dict (names with one of
	// ExtraPrefixes), in file order.
	Extra []model.NamedTensor
	// Metadata holds every metadata entry ("config" and "format" included).
	Metadata map[string]string
}

// Resolve accepts a run directory or a model file and returns the file's path: for a
// directory, its RunFile, which must exist.
func Resolve(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("model file %s: %w", path, err)
	}
	if st.IsDir() {
		p := filepath.Join(path, RunFile)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("run directory %s has no %s: %w", path, RunFile, err)
		}
		return p, nil
	}
	return path, nil
}

// Read reads a model file written by Save (or any safetensors state_dict whose
// metadata holds a "config") without building the model.
func Read(path string) (*File, error) { return read(path, true) }

// read is Read, leaving the extras out (not even read from disk) unless extras is set.
func read(path string, extras bool) (*File, error) {
	keep := func(name string) bool { return extras || !isExtra(name) }
	tf, err := tensorfile.ReadSafetensorsSelected(path, keep)
	if err != nil {
		return nil, err
	}
	cj, ok := tf.Metadata["config"]
	if !ok {
		return nil, fmt.Errorf("%s: no model configuration in the metadata (not an nvae checkpoint; for NVIDIA's .pt files use 'nvae import')", path)
	}
	f := &File{Path: path, Config: model.DefaultConfig(), Metadata: tf.Metadata}
	dec := json.NewDecoder(strings.NewReader(cj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f.Config); err != nil {
		return nil, fmt.Errorf("%s: reading the configuration: %w", path, err)
	}
	for _, t := range ModelTensors(tf.Tensors) {
		if isExtra(t.Name) {
			f.Extra = append(f.Extra, t)
		} else {
			f.State = append(f.State, t)
		}
	}
	return f, nil
}

// Load builds the model stored at path and loads its weights and buffers strictly.
// path may be a run directory, a model file written by Save (.safetensors), or an
// official PyTorch checkpoint.pt; for the latter the returned File is nil.
func Load(path string) (*model.Model, *File, error) { return load(path, true) }

// LoadWeights is Load for using the model only (evaluation, sampling, serving): the
// extras (optimizer moments, spectral vectors), which take about twice the memory of
// the weights in a training checkpoint, are neither read from disk nor returned
// (File.Extra is empty).
func LoadWeights(path string) (*model.Model, *File, error) { return load(path, false) }

func load(path string, extras bool) (*model.Model, *File, error) {
	p, err := Resolve(path)
	if err != nil {
		return nil, nil, err
	}
	if isTorchFile(p) {
		ck, err := tensorfile.ReadTorch(p)
		if err != nil {
			return nil, nil, err
		}
		m, err := FromTorch(ck)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		return m, nil, nil
	}
	f, err := read(p, extras)
	if err != nil {
		return nil, nil, err
	}
	m, err := model.New(f.Config, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := m.LoadStateDict(f.State); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, f, nil
}

// Save writes m atomically to path: its state_dict in the official names and layouts,
// then the extra tensors (each name must start with one of ExtraPrefixes), with
// metadata made of meta, "format" and m's configuration under "config" (these two
// replace entries of meta with the same keys).
func Save(path string, m *model.Model, extra []model.NamedTensor, meta map[string]string) error {
	ts := m.StateDict()
	for _, t := range extra {
		if !isExtra(t.Name) {
			return fmt.Errorf("writing %s: extra tensor %q: name must start with one of %v", path, t.Name, ExtraPrefixes)
		}
	}
	ts = append(ts, extra...)
	md := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		md[k] = v
	}
	md["format"] = formatTag
	cfg, err := json.Marshal(m.Cfg)
	if err != nil {
		return fmt.Errorf("writing %s: encoding the configuration: %w", path, err)
	}
	md["config"] = string(cfg)
	if err := tensorfile.WriteSafetensors(path, FileTensors(ts), md); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// isExtra reports whether a stored tensor name is an extra (see ExtraPrefixes).
func isExtra(name string) bool {
	for _, p := range ExtraPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ModelTensors converts tensors read from a file to the model's form (data shared,
// not copied): integer dtypes set Int.
func ModelTensors(ts []tensorfile.Named) []model.NamedTensor {
	out := make([]model.NamedTensor, len(ts))
	for i, t := range ts {
		out[i] = model.NamedTensor{Name: t.Name, Shape: t.Shape, Data: t.Data, Int: isIntDType(t.DType)}
	}
	return out
}

// FileTensors converts the model's tensors to the file form (data shared, not
// copied): Int entries are stored as I64, the others as F32.
func FileTensors(ts []model.NamedTensor) []tensorfile.Named {
	out := make([]tensorfile.Named, len(ts))
	for i, t := range ts {
		dt := tensorfile.F32
		if t.Int {
			dt = tensorfile.I64
		}
		out[i] = tensorfile.Named{Name: t.Name, Shape: t.Shape, DType: dt, Data: t.Data}
	}
	return out
}

// isIntDType reports whether dt holds integers.
func isIntDType(dt string) bool {
	switch dt {
	case tensorfile.I64, tensorfile.I32, tensorfile.I16, tensorfile.I8, tensorfile.U8, tensorfile.BOOL:
		return true
	}
	return false
}

// isTorchFile reports whether path looks like a torch.save zip archive (by extension
// or by the zip signature).
func isTorchFile(path string) bool {
	if strings.HasSuffix(path, ".pt") || strings.HasSuffix(path, ".pth") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var sig [4]byte
	if _, err := io.ReadFull(f, sig[:]); err != nil {
		return false
	}
	return string(sig[:]) == "PK\x03\x04"
}
