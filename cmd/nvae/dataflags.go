package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/train"
)

// dataUsage is the help of --data, the image reader. It differs from --dataset (the
// official flag: likelihood, input size and preprocessing family); see
// data.CheckSource for the combinations accepted.
const dataUsage = "image reader, which files are read (not --dataset, which picks the likelihood): " +
	"mnist, fashion_mnist, embedded (28×28 greyscale digits, for --dataset mnist or omniglot); " +
	"cifar10, folder, celeba_64 (colour images, for the other --dataset values)"

// configUsage overrides the generated help of official flags whose meaning here needs
// saying.
var configUsage = map[string]string{
	"dataset": "official flag: the dataset being modelled, which picks the likelihood (mnist, omniglot: Bernoulli on the central 28×28; " +
		"the others: logistic mixture, or Normal with num_mixture_dec 1), input size and preprocessing; which files are read is --data",
	"fast_adamax": "official flag, accepted with no effect: this Adamax already updates every parameter in one pass with " +
		"the maths of the official fused Adamax (identical to torch.optim.Adamax; docs/model.md#adamax)",
	"cont_training": "official flag: continue from the run directory's checkpoint, which must exist " +
		"(--resume, on by default, also continues but starts afresh when there is none)",
}

// applyContTraining implements --cont_training as the official train.py does: the run
// continues from its checkpoint, and a missing checkpoint is an error rather than a
// fresh start. It contradicts an explicit --resume=false.
func applyContTraining(fs *flag.FlagSet, o *train.Options) error {
	if !o.Config.ContTraining {
		return nil
	}
	explicitNoResume := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "resume" && !o.Resume {
			explicitNoResume = true
		}
	})
	if explicitNoResume {
		return fmt.Errorf("--cont_training continues from the checkpoint, which --resume=false forbids: give one of the two")
	}
	ckpt := filepath.Join(o.Out, modelfile.RunFile)
	if _, err := os.Stat(ckpt); err != nil {
		return fmt.Errorf("--cont_training: no checkpoint to continue from in %s (%v); drop --cont_training to start a new run", o.Out, err)
	}
	o.Resume = true
	return nil
}
