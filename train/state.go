package train

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvae-go/nvae/checkpoint"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/nn"
	"github.com/nvae-go/nvae/optim"
)

// CheckpointName is the file a run directory keeps its checkpoint in. It is one
// safetensors file, written atomically: the model's state_dict under the official
// names and layouts (readable on its own), the optimizer moments under "adamax.*",
// the spectral power-iteration vectors under "spectral.*", and in its metadata the
// configuration ("config") and the training position ("train_state").
const CheckpointName = "checkpoint.safetensors"

// Progress is the training position saved in a checkpoint.
type Progress struct {
	Step        int              `json:"step"`
	AdamaxStep  int64            `json:"adamax_step"`
	Loader      data.LoaderState `json:"loader"`
	Noise       string           `json:"noise"` // base64 of the generator state
	BadSteps    int              `json:"bad_steps"`
	BadInARow   int              `json:"bad_in_a_row"`
	TrainSecond float64          `json:"train_seconds"`
	// Schedule echoes the schedule options so a resumed run keeps them.
	Steps         int `json:"steps"`
	WarmupSteps   int `json:"warmup_steps"`
	KLAnnealSteps int `json:"kl_anneal_steps"`
	KLConstSteps  int `json:"kl_const_steps"`
	TotalSteps    int `json:"total_steps"`
}

// Saved is a checkpoint read back from disk.
type Saved struct {
	Config   model.Config
	Progress *Progress // nil for weights-only files
	File     *checkpoint.File
}

// ResolveCheckpoint accepts a run directory or a checkpoint file and returns the file.
func ResolveCheckpoint(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if st.IsDir() {
		p := filepath.Join(path, CheckpointName)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("run directory %s has no %s: %w", path, CheckpointName, err)
		}
		return p, nil
	}
	return path, nil
}

// save writes the checkpoint atomically.
func save(path string, m *model.Model, opt *optim.Adamax, prog Progress, noise *RandNoise) error {
	ts := m.StateDict()
	st := opt.State()
	for i, p := range m.Params() {
		ts = append(ts,
			checkpoint.Named{Name: "adamax.exp_avg." + p.Name, Shape: []int{len(st.ExpAvg[i])}, Data: st.ExpAvg[i]},
			checkpoint.Named{Name: "adamax.exp_inf." + p.Name, Shape: []int{len(st.ExpInf[i])}, Data: st.ExpInf[i]})
	}
	for i, g := range m.Spectral().Groups() {
		ts = append(ts,
			checkpoint.NewNamed(fmt.Sprintf("spectral.%d.u", i), g.U),
			checkpoint.NewNamed(fmt.Sprintf("spectral.%d.v", i), g.V))
	}
	nb, err := noise.MarshalBinary()
	if err != nil {
		return err
	}
	prog.Noise = base64.StdEncoding.EncodeToString(nb)
	prog.AdamaxStep = st.Step
	cfg, err := json.Marshal(m.Cfg)
	if err != nil {
		return err
	}
	pj, err := json.Marshal(prog)
	if err != nil {
		return err
	}
	meta := map[string]string{"config": string(cfg), "train_state": string(pj), "format": "nvae-go checkpoint v1"}
	if err := checkpoint.WriteSafetensors(path, ts, meta); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return nil
}

// Load reads a checkpoint written by training (or any safetensors state_dict whose
// metadata holds a "config").
func Load(path string) (*Saved, error) {
	f, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	cj, ok := f.Metadata["config"]
	if !ok {
		return nil, fmt.Errorf("%s: no model configuration in the metadata (not an nvae checkpoint; for NVIDIA's .pt files use 'nvae import')", path)
	}
	s := &Saved{File: f}
	s.Config = model.DefaultConfig()
	dec := json.NewDecoder(strings.NewReader(cj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.Config); err != nil {
		return nil, fmt.Errorf("%s: reading the configuration: %w", path, err)
	}
	if pj, ok := f.Metadata["train_state"]; ok {
		s.Progress = new(Progress)
		if err := json.Unmarshal([]byte(pj), s.Progress); err != nil {
			return nil, fmt.Errorf("%s: reading the training state: %w", path, err)
		}
	}
	return s, nil
}

// ModelTensors returns the state_dict part of the checkpoint (no optimizer or
// spectral entries).
func (s *Saved) ModelTensors() []checkpoint.Named {
	var out []checkpoint.Named
	for _, t := range s.File.Tensors {
		if strings.HasPrefix(t.Name, "adamax.") || strings.HasPrefix(t.Name, "spectral.") {
			continue
		}
		out = append(out, t)
	}
	return out
}

// LoadModel builds the model of a checkpoint and loads its weights and buffers. path
// may be a run directory, a checkpoint written by training or import
// (.safetensors), or an official PyTorch checkpoint.pt; for the latter the returned
// Saved is nil.
func LoadModel(path string) (*model.Model, *Saved, error) {
	p, err := ResolveCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	if isTorchFile(p) {
		ck, err := checkpoint.ReadTorch(p)
		if err != nil {
			return nil, nil, err
		}
		m, err := model.FromTorch(ck)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		return m, nil, nil
	}
	s, err := Load(p)
	if err != nil {
		return nil, nil, err
	}
	m, err := model.New(s.Config, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := m.LoadStateDict(s.ModelTensors()); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, s, nil
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

// SaveModel writes a weights-only checkpoint (the model's state_dict in the official
// names and layouts, with its configuration in the metadata) atomically. When base is
// a checkpoint written by training, its optimizer, spectral and training state are
// kept, so the file still resumes; extra metadata entries are added.
func SaveModel(path string, m *model.Model, base *Saved, extra map[string]string) error {
	ts := m.StateDict()
	meta := map[string]string{"format": "nvae-go checkpoint v1"}
	if base != nil {
		for _, t := range base.File.Tensors {
			if strings.HasPrefix(t.Name, "adamax.") || strings.HasPrefix(t.Name, "spectral.") {
				ts = append(ts, t)
			}
		}
		for k, v := range base.File.Metadata {
			meta[k] = v
		}
	}
	cfg, err := json.Marshal(m.Cfg)
	if err != nil {
		return err
	}
	meta["config"] = string(cfg)
	for k, v := range extra {
		meta[k] = v
	}
	if err := checkpoint.WriteSafetensors(path, ts, meta); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// restore loads the optimizer, spectral state and noise generator of a checkpoint.
func (s *Saved) restore(m *model.Model, opt *optim.Adamax, noise *RandNoise) error {
	byName := s.File.Map()
	st := optim.AdamaxState{Step: s.Progress.AdamaxStep}
	for _, p := range m.Params() {
		ea, ok1 := byName["adamax.exp_avg."+p.Name]
		ei, ok2 := byName["adamax.exp_inf."+p.Name]
		if !ok1 || !ok2 {
			return fmt.Errorf("checkpoint has no optimizer state for %s", p.Name)
		}
		st.ExpAvg = append(st.ExpAvg, ea.Data)
		st.ExpInf = append(st.ExpInf, ei.Data)
	}
	if err := opt.SetState(st); err != nil {
		return fmt.Errorf("restoring the optimizer: %w", err)
	}
	var groups []nn.SpectralGroup
	for i := 0; ; i++ {
		u, ok1 := byName[fmt.Sprintf("spectral.%d.u", i)]
		v, ok2 := byName[fmt.Sprintf("spectral.%d.v", i)]
		if !ok1 || !ok2 || len(u.Shape) != 2 || len(v.Shape) != 2 {
			break
		}
		groups = append(groups, nn.SpectralGroup{Rows: u.Shape[1], Cols: v.Shape[1], U: u.Tensor(), V: v.Tensor()})
	}
	if err := m.Spectral().SetGroups(groups); err != nil {
		return fmt.Errorf("restoring the spectral regulariser: %w", err)
	}
	nb, err := base64.StdEncoding.DecodeString(s.Progress.Noise)
	if err != nil {
		return fmt.Errorf("checkpoint noise state: %w", err)
	}
	return noise.UnmarshalBinary(nb)
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
