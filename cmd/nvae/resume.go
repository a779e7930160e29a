package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/train"
)

// resumeMayChange lists the train flags that may differ from the checkpoint when a
// run resumes: how long to run, how often to log, evaluate and save, where the data
// and outputs are, and flags without effect on the model. Every other flag given on
// the command line (and every value a given --preset sets) must agree with the
// checkpoint. --epochs and --steps lengthen or shorten the run.
var resumeMayChange = []string{
	"epochs", "steps", "max_minutes", "checkpoint_minutes", "eval_every_steps", "eval_images", "num_iw_samples",
	"final_iw_samples", "max_bad_steps", "log_every", "json", "out", "resume", "force", "data", "data_dir",
	"download", "checkpoint_cells", "cont_training", "fast_adamax",
}

// resumeHelp is the sentence of 'nvae train -h' about resuming.
var resumeHelp = "continue from the run directory's checkpoint when it has one; flags that disagree with its configuration " +
	"are then an error, except --" + strings.Join(resumeMayChange, ", --")

// checkResume compares, for a run about to resume from ckpt, every flag given on
// the command line with what the checkpoint stores, and fails listing each one that
// disagrees with its stored and given values. given is the configuration built from
// the preset and the flags. It also carries --epochs / --steps over into o, as the
// run's new length.
func checkResume(fset *flag.FlagSet, cf *configFlags, preset string, given model.Config, o *train.Options) error {
	ckpt := filepath.Join(o.Out, modelfile.RunFile)
	if _, err := os.Stat(ckpt); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	f, err := modelfile.Read(ckpt)
	if err != nil {
		return err
	}
	var prog train.Progress
	if pj, ok := f.Metadata["train_state"]; ok {
		if err := json.Unmarshal([]byte(pj), &prog); err != nil {
			return fmt.Errorf("%s: reading the training state: %w", ckpt, err)
		}
	}
	explicit := map[string]bool{}
	fset.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	mayChange := map[string]bool{}
	for _, n := range resumeMayChange {
		mayChange[n] = true
	}
	var diffs []string
	// configuration fields: given explicitly, or set by an explicit --preset
	stored, want := reflect.ValueOf(f.Config), reflect.ValueOf(given)
	for name, i := range cf.fields {
		if mayChange[name] || !(explicit[name] || explicit["preset"]) {
			continue
		}
		sv, gv := stored.Field(i).Interface(), want.Field(i).Interface()
		if reflect.DeepEqual(sv, gv) {
			continue
		}
		src := "given"
		if !explicit[name] {
			src = "--preset " + preset + " gives"
		}
		diffs = append(diffs, fmt.Sprintf("--%s (checkpoint has %v, %s %v)", name, sv, src, gv))
	}
	// schedule options stored with the run state
	for _, c := range []struct {
		name          string
		stored, given int
	}{{"warmup_steps", prog.WarmupSteps, o.WarmupSteps}, {"kl_anneal_steps", prog.KLAnnealSteps, o.KLAnnealSteps},
		{"kl_const_steps", prog.KLConstSteps, o.KLConstSteps}} {
		if explicit[c.name] && c.stored != c.given {
			diffs = append(diffs, fmt.Sprintf("--%s (checkpoint has %d, given %d)", c.name, c.stored, c.given))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("%s was trained with another configuration, and resuming keeps the checkpoint's: %s; "+
			"drop these flags to resume, or choose a new --out (or --resume=false --force to start over there)", ckpt, strings.Join(diffs, ", "))
	}
	if explicit["steps"] {
		if prog.Steps == 0 {
			return fmt.Errorf("%s follows the epoch schedules: give --epochs, not --steps, to change its length", ckpt)
		}
		o.ResumeSteps = o.Steps
	}
	if explicit["epochs"] {
		if prog.Steps > 0 {
			return fmt.Errorf("%s follows step schedules (--steps %d): give --steps, not --epochs, to change its length", ckpt, prog.Steps)
		}
		o.ResumeEpochs = given.Epochs
	}
	return nil
}
