package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/train"
)

func init() {
	register(&command{name: "train", summary: "train a model (default: a small model on the embedded Fashion-MNIST subset); data-parallel under mpirun", run: runTrain, mpi: mpiAlways})
}

func runTrain(args []string, stdout io.Writer) error {
	fs := newFlags("train", "[--preset NAME] [--out DIR] [--max_minutes M] [official flags…]")
	preset := fs.String("preset", "demo", "starting configuration: "+joinNames(model.PresetNames()))
	o := train.Options{}
	fs.StringVar(&o.Data, "data", "embedded", dataUsage)
	fs.StringVar(&o.DataDir, "data_dir", "", "directory (or archive) of the images; for fashion_mnist the Debian dataset directory by default")
	download := fs.Bool("download", false, "download mnist / fashion_mnist / cifar10 into --data_dir first (checksums verified)")
	fs.StringVar(&o.Out, "out", "runs/demo", "run directory: checkpoint, metrics, TensorBoard events, pictures")
	fs.BoolVar(&o.Resume, "resume", true, resumeHelp)
	fs.BoolVar(&o.Force, "force", false, "with --resume=false, replace the run directory's existing checkpoint (refused without it)")
	addRecomputeCellsFlag(fs, &o.RecomputeCells)
	addPrecisionFlag(fs, &o.Precision)
	fs.IntVar(&o.Steps, "steps", 0, "train this many steps with step-based schedules (0: the official epoch schedules)")
	fs.IntVar(&o.WarmupSteps, "warmup_steps", 0, "LR warm-up length in steps (0: warmup_epochs)")
	fs.IntVar(&o.KLAnnealSteps, "kl_anneal_steps", 0, "KL warm-up length in steps (0: kl_anneal_portion of all steps)")
	fs.IntVar(&o.KLConstSteps, "kl_const_steps", 0, "steps at kl_const_coeff before the KL warm-up (with --kl_anneal_steps)")
	fs.Float64Var(&o.MaxMinutes, "max_minutes", 0, "stop after this many minutes of training, then save and draw the final pictures (0: no limit)")
	fs.Float64Var(&o.CheckpointMinutes, "checkpoint_minutes", 10, "minutes between periodic checkpoints")
	fs.IntVar(&o.EvalEverySteps, "eval_every_steps", 0, "evaluate every N steps (0: the official per-epoch rule)")
	fs.IntVar(&o.EvalImages, "eval_images", 1000, "test images per evaluation (0: all)")
	fs.IntVar(&o.NumIWSamples, "num_iw_samples", 10, "importance samples per evaluation during training")
	fs.IntVar(&o.FinalIWSamples, "final_iw_samples", 0, "importance samples of an extra evaluation after training (official: 1000; 0: none)")
	fs.IntVar(&o.MaxBadSteps, "max_bad_steps", 10, "stop after this many consecutive steps with a non-finite loss or gradient")
	fs.IntVar(&o.LogEvery, "log_every", 10, "steps between metric records")
	fs.IntVar(&o.StopAfter, "stop_after", 0, "end this run after N steps, saving the checkpoint; rerun to continue the schedule (0: run to the end)")
	asJSON := fs.Bool("json", false, "print the run summary as JSON at the end")
	cf := addConfigFlags(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	cfg, err := cf.config(*preset)
	if err != nil {
		return err
	}
	o.Config = cfg
	o.Log = stdout
	o.Progress = errOut
	o.Comm = job
	applyPresetPlan(fs, *preset, &o)
	if err := applyContTraining(fs, &o); err != nil {
		return err
	}
	if o.Resume {
		if err := checkResume(fs, cf, *preset, cfg, &o); err != nil {
			return err
		}
	}
	if err := data.CheckSource(o.Data, cfg.Dataset, cfg.Binary(), cfg.ImageSize()); err != nil {
		return err
	}
	if *download {
		if o.DataDir == "" {
			return fmt.Errorf("--download needs --data_dir")
		}
		if job.Rank() == 0 { // one download for the job; the other ranks wait for it
			if err := data.Download(context.Background(), o.Data, o.DataDir, data.DownloadOptions{Logf: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }}); err != nil {
				return err
			}
		}
		if err := job.Barrier(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t, err := train.New(o)
	if err != nil {
		return err
	}
	defer t.Close()
	sum, err := t.Run(ctx)
	if err != nil {
		return err
	}
	if sum.Interrupted {
		fmt.Fprintf(stdout, "interrupted: checkpoint saved at step %d in %s (rerun the same command to resume)\n", sum.Steps, sum.Checkpoint)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(sum)
	}
	if sum.StepsThisRun == 0 && !sum.Interrupted {
		fmt.Fprintf(stdout, "the run in %s had already finished its %d steps (a resumed run keeps the schedule of its checkpoint; use a new --out to train again)\n", o.Out, sum.Steps)
	} else {
		fmt.Fprintf(stdout, "done: %d steps in %.0f s of training (%.1f images/s, %d skipped), last loss %.2f; this run took %.0f s, %.0f s of it evaluating\n",
			sum.Steps, sum.TrainSeconds, sum.ImagesPerS, sum.BadSteps, sum.LastLoss, sum.WallSeconds, sum.EvalSeconds)
	}
	if sum.Eval != nil {
		fmt.Fprintf(stdout, "test: NELBO %.2f nats, IW bound %.2f nats (K=%d, %d images), %.4f bits/dim\n",
			sum.Eval.NELBONats, sum.Eval.NLLNats, sum.Eval.NumIWSamples, sum.Eval.NumImages, sum.Eval.BPD)
	}
	fmt.Fprintf(stdout, "wrote %s and pictures, metrics, curves in %s\n", sum.Checkpoint, o.Out)
	return nil
}

func joinNames(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// applyPresetPlan gives a preset's step-based schedule (model.PresetPlan: the demo's) to
// the options unless the command line asks for a schedule of its own: any of --steps,
// --warmup_steps, --kl_anneal_steps, --kl_const_steps, --epochs or --warmup_epochs
// leaves the plan out entirely; --eval_every_steps replaces only the plan's interval.
func applyPresetPlan(fs *flag.FlagSet, preset string, o *train.Options) {
	p, ok := model.PresetPlan(preset)
	if !ok {
		return
	}
	own := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "steps", "warmup_steps", "kl_anneal_steps", "kl_const_steps", "epochs", "warmup_epochs":
			own = true
		case "eval_every_steps":
			p.EvalEverySteps = o.EvalEverySteps
		}
	})
	if !own {
		o.ApplyPlan(p)
	}
}
