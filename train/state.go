package train

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/optim"
)

// Progress is the training position of a run, part of its run state. The run state
// is what a run directory's model file (modelfile.RunFile) holds beyond the model, so
// that a resumed run continues exactly as an uninterrupted one: the optimizer moments
// as extra tensors "adamax.exp_avg.<param>" and "adamax.exp_inf.<param>", the spectral
// power-iteration vectors (model.SpectralState, "spectral.*"), and the Progress (with
// the noise generator's state) as JSON in the metadata entry "train_state". The file
// is written atomically by modelfile.Save, so it is also a plain model file.
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

// saveRun writes the model and the run state to path atomically.
func saveRun(path string, m *model.Model, opt *optim.Adamax, prog Progress, noise *model.SeededNoise) error {
	st := opt.State()
	var extra []model.NamedTensor
	for i, p := range m.Params() {
		extra = append(extra,
			model.NamedTensor{Name: "adamax.exp_avg." + p.Name, Shape: []int{len(st.ExpAvg[i])}, Data: st.ExpAvg[i]},
			model.NamedTensor{Name: "adamax.exp_inf." + p.Name, Shape: []int{len(st.ExpInf[i])}, Data: st.ExpInf[i]})
	}
	extra = append(extra, m.SpectralState()...)
	nb, err := noise.MarshalBinary()
	if err != nil {
		return err
	}
	prog.Noise = base64.StdEncoding.EncodeToString(nb)
	prog.AdamaxStep = st.Step
	pj, err := json.Marshal(prog)
	if err != nil {
		return err
	}
	if err := modelfile.Save(path, m, extra, map[string]string{"train_state": string(pj)}); err != nil {
		return fmt.Errorf("saving the run: %w", err)
	}
	return nil
}

// readProgress returns the Progress stored in f, or nil when f holds no run state
// (a weights-only file).
func readProgress(f *modelfile.File) (*Progress, error) {
	pj, ok := f.Metadata["train_state"]
	if !ok {
		return nil, nil
	}
	p := new(Progress)
	if err := json.Unmarshal([]byte(pj), p); err != nil {
		return nil, fmt.Errorf("%s: reading the training state: %w", f.Path, err)
	}
	return p, nil
}

// restoreRun loads the optimizer, spectral state and noise generator of the run state
// in f (whose Progress is prog).
func restoreRun(f *modelfile.File, prog *Progress, m *model.Model, opt *optim.Adamax, noise *model.SeededNoise) error {
	byName := make(map[string]model.NamedTensor, len(f.Extra))
	for _, t := range f.Extra {
		byName[t.Name] = t
	}
	st := optim.AdamaxState{Step: prog.AdamaxStep}
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
	if err := m.SetSpectralState(f.Extra); err != nil {
		return err
	}
	nb, err := base64.StdEncoding.DecodeString(prog.Noise)
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
