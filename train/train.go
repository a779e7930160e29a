package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/optim"
	"github.com/nvae-go/nvae/report"
	"github.com/nvae-go/nvae/tensor"
)

// StepMetrics are the numbers logged for one training step.
type StepMetrics struct {
	Step        int     `json:"step"`
	Epoch       int     `json:"epoch"`
	Loss        float64 `json:"loss"`      // the optimised objective, regularisers included
	NELBO       float64 `json:"nelbo"`     // mean_b(recon + Σ KL), unbalanced, β = 1
	Recon       float64 `json:"recon"`     // mean_b recon
	KL          float64 `json:"kl"`        // mean_b Σ_l KL_l (unbalanced)
	NormLoss    float64 `json:"norm_loss"` // spectral term
	BNLoss      float64 `json:"bn_loss"`
	LR          float64 `json:"lr"`
	KLCoeff     float64 `json:"kl_coeff"`   // β
	NormCoeff   float64 `json:"norm_coeff"` // λ
	ImagesPerS  float64 `json:"images_per_s"`
	Skipped     bool    `json:"skipped,omitempty"`
	ActiveUnits int     `json:"active_units"`
}

// Summary is what a finished run reports.
type Summary struct {
	Steps        int          `json:"steps"`
	BadSteps     int          `json:"bad_steps"`
	TrainSeconds float64      `json:"train_seconds"`
	ImagesPerS   float64      `json:"images_per_s"`
	LastLoss     float64      `json:"last_loss"`
	Eval         *eval.Result `json:"eval,omitempty"`
	FinalEval    *eval.Result `json:"final_eval,omitempty"`
	Checkpoint   string       `json:"checkpoint"`
	Interrupted  bool         `json:"interrupted"`
	// StepsThisRun counts the steps taken by this call (0 when a resumed run had
	// already finished its schedule).
	StepsThisRun int `json:"steps_this_run"`
}

// Trainer holds a run in progress.
type Trainer struct {
	opts   Options
	cfg    model.Config
	m      *model.Model
	opt    *optim.Adamax
	noise  *model.SeededNoise
	train  *data.Loader
	test   *data.Dataset
	lr     optim.LRScheduler
	kl     optim.KLSchedule
	reg    optim.RegCoeff
	prog   Progress
	params [][]float32
	grads  [][]float32
	// running statistics saved before each step (restored if the step is non-finite)
	bnSave  []float32
	bnCount []int64
	times   StepTimes
	// fixed is the batch of a trainer made by NewFixed, nil otherwise.
	fixed *Fixed

	metrics *report.JSONL
	events  *report.EventWriter
	bar     *report.Progress
	history []map[string]float64
}

// New prepares a run: data, model, optimizer and schedules, resuming from the run
// directory's checkpoint when asked and present.
func New(opts Options) (*Trainer, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("creating the run directory: %w", err)
	}
	ckpt := filepath.Join(opts.Out, modelfile.RunFile)
	var saved *modelfile.File
	var savedProg *Progress
	if opts.Resume && exists(ckpt) {
		f, err := modelfile.Read(ckpt)
		if err != nil {
			return nil, err
		}
		p, err := readProgress(f)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("%s holds weights only, no training state to resume", ckpt)
		}
		saved, savedProg = f, p
		opts.Config = f.Config
		opts.Steps, opts.WarmupSteps, opts.KLAnnealSteps, opts.KLConstSteps = p.Steps, p.WarmupSteps, p.KLAnnealSteps, p.KLConstSteps
	}
	t := &Trainer{opts: opts, cfg: opts.Config}
	cfg := t.cfg

	if err := data.CheckSource(opts.Data, cfg.Dataset, cfg.Binary(), cfg.ImageSize()); err != nil {
		return nil, err
	}
	dsTrain, err := data.OpenFor(opts.Data, opts.DataDir, "train", cfg.ImageSize(), cfg.ImageChannels())
	if err != nil {
		return nil, err
	}
	t.test, err = data.OpenFor(opts.Data, opts.DataDir, "test", cfg.ImageSize(), cfg.ImageChannels())
	if err != nil {
		return nil, err
	}
	tr, err := data.TransformFor(dsTrain, cfg.Dataset, true, cfg.NumXBits)
	if err != nil {
		return nil, err
	}
	t.train, err = data.NewLoader(dsTrain, data.LoaderConfig{BatchSize: cfg.BatchSize, Shuffle: true, DropLast: true, Seed: uint64(cfg.Seed), Transform: tr})
	if err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	if err := checkShape(t.train, cfg, dsTrain.Name); err != nil {
		return nil, err
	}
	if t.train.BatchesPerEpoch() == 0 {
		return nil, fmt.Errorf("training data %s has %d images, fewer than one batch of %d", dsTrain.Name, dsTrain.N, cfg.BatchSize)
	}

	t.m, err = model.New(cfg, uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	t.m.RecomputeCells = opts.RecomputeCells
	if err := t.setOptimizer(cfg.WeightDecay); err != nil {
		return nil, err
	}
	t.noise = model.NewSeededNoise(uint64(cfg.Seed))

	iters := t.train.BatchesPerEpoch()
	total := opts.Steps
	if total == 0 {
		total = iters * cfg.Epochs
	}
	warm := opts.WarmupSteps
	if warm == 0 {
		warm = iters * cfg.WarmupEpochs
	}
	if opts.Steps > 0 || opts.WarmupSteps > 0 {
		t.lr = optim.StepSchedule{LRMax: cfg.LearningRate, LRMin: cfg.LearningRateMin, WarmupSteps: warm, TotalSteps: opts.Steps}
	} else {
		t.lr = optim.EpochSchedule{LRMax: cfg.LearningRate, LRMin: cfg.LearningRateMin, Epochs: cfg.Epochs, WarmupEpochs: cfg.WarmupEpochs, ItersPerEpoch: iters}
	}
	if opts.KLAnnealSteps > 0 {
		t.kl = optim.KLStepSchedule(opts.KLConstSteps, opts.KLAnnealSteps, cfg.KLConstCoeff)
	} else {
		t.kl = optim.KLScheduleFromPortions(cfg.KLAnnealPortion, cfg.KLConstPortion, cfg.KLConstCoeff, total)
	}
	t.reg = optim.RegCoeff{Lambda: cfg.WeightDecayNorm, LambdaInit: cfg.WeightDecayNormInit, Anneal: cfg.WeightDecayNormAnn}
	if err := t.reg.Validate(); err != nil {
		return nil, err
	}
	t.prog = Progress{Steps: opts.Steps, WarmupSteps: opts.WarmupSteps, KLAnnealSteps: opts.KLAnnealSteps, KLConstSteps: opts.KLConstSteps, TotalSteps: total}

	if saved != nil {
		if err := t.m.LoadStateDict(saved.State); err != nil {
			return nil, fmt.Errorf("%s: %w", ckpt, err)
		}
		if err := restoreRun(saved, savedProg, t.m, t.opt, t.noise); err != nil {
			return nil, fmt.Errorf("%s: %w", ckpt, err)
		}
		if err := t.train.Restore(savedProg.Loader); err != nil {
			return nil, fmt.Errorf("%s: %w", ckpt, err)
		}
		p := *savedProg
		t.prog.Step, t.prog.BadSteps, t.prog.BadInARow, t.prog.TrainSecond = p.Step, p.BadSteps, p.BadInARow, p.TrainSecond
		fmt.Fprintf(opts.Log, "resuming %s at step %d\n", ckpt, p.Step)
	}
	return t, nil
}

// setOptimizer points the trainer at the model's parameters and gradients and makes
// the optimizer for them.
func (t *Trainer) setOptimizer(weightDecay float64) error {
	params := t.m.Params()
	sizes := make([]int, len(params))
	t.params, t.grads = make([][]float32, len(params)), make([][]float32, len(params))
	for i, p := range params {
		sizes[i], t.params[i], t.grads[i] = p.V.Value.Len(), p.V.Data(), p.V.Grad.Data()
	}
	var err error
	t.opt, err = optim.NewAdamax(sizes, weightDecay)
	return err
}

// checkShape verifies that the loader's images fit the model's input.
func checkShape(l *data.Loader, cfg model.Config, name string) error {
	s := l.ImageShape()
	if s[0] != cfg.ImageSize() || s[1] != cfg.ImageSize() || s[2] != cfg.ImageChannels() {
		return fmt.Errorf("images of %s come out %d×%d×%d after preprocessing, but dataset %q wants %d×%d×%d",
			name, s[0], s[1], s[2], cfg.Dataset, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels())
	}
	return nil
}

// Model returns the model being trained.
func (t *Trainer) Model() *model.Model { return t.m }

// Close releases the data loader and log files.
func (t *Trainer) Close() {
	if t.train != nil {
		t.train.Close()
	}
	if t.metrics != nil {
		t.metrics.Close()
	}
	if t.events != nil {
		t.events.Close()
	}
}

// StepTimes splits the wall time of a training step into its phases.
type StepTimes struct {
	Data     time.Duration // reading the batch (zero for a fixed batch)
	Forward  time.Duration // forward pass and loss
	Backward time.Duration // backward pass
	Update   time.Duration // finiteness check, optimizer update, clearing the gradients
}

// LastStepTimes returns the phases of the last step taken.
func (t *Trainer) LastStepTimes() StepTimes { return t.times }

// Fixed is a training setup without data or run directory: every step trains on the
// same batch with the same learning rate, KL coefficient β and regulariser weight λ
// (nvae bench train times the trainer's own step with it).
type Fixed struct {
	Batch                  *tensor.Tensor // NHWC in [0,1]
	LR, KLCoeff, NormCoeff float64
	WeightDecay            float64 // of the optimizer
	Seed                   uint64  // of the model's noise
}

// NewFixed returns a trainer of m whose StepOnce trains on f. It has no data, logs or
// checkpoints: use StepOnce, LastStepTimes and Model only. A non-finite step is skipped
// as in a run but never stops it.
func NewFixed(m *model.Model, f Fixed) (*Trainer, error) {
	if f.Batch == nil {
		return nil, fmt.Errorf("train.NewFixed: no batch")
	}
	t := &Trainer{m: m, cfg: m.Cfg, fixed: &f, noise: model.NewSeededNoise(f.Seed), opts: Options{MaxBadSteps: math.MaxInt}}
	if err := t.setOptimizer(f.WeightDecay); err != nil {
		return nil, fmt.Errorf("train.NewFixed: %w", err)
	}
	return t, nil
}

// StepOnce runs one training step on the next batch and returns its metrics.
func (t *Trainer) StepOnce() (StepMetrics, error) {
	if f := t.fixed; f != nil {
		return t.step(f.Batch, 0, f.LR, f.KLCoeff, f.NormCoeff, 0)
	}
	start := time.Now()
	batch, err := t.train.Next()
	if err != nil {
		return StepMetrics{}, fmt.Errorf("reading training data: %w", err)
	}
	defer batch.Release()
	step := t.prog.Step
	beta := t.kl.Beta(step)
	return t.step(batch.X, batch.Epoch, t.lr.LR(step, batch.Epoch), beta, t.reg.At(beta), time.Since(start))
}

// step trains on x with the given learning rate, KL coefficient β and regulariser
// weight λ; readTime is the time spent getting x.
func (t *Trainer) step(x *tensor.Tensor, epoch int, lr, beta, lambda float64, readTime time.Duration) (StepMetrics, error) {
	step := t.prog.Step
	t0 := time.Now()
	t.times = StepTimes{Data: readTime}
	t.saveBN()
	tp := ad.NewTape()
	defer tp.Release()
	out := t.m.Forward(tp, x, true, t.noise)
	loss := t.m.Loss(tp, out, x, float32(beta), float32(lambda), t.noise)
	lv := float64(loss.Total.Value.Item())
	t1 := time.Now()
	t.times.Forward = t1.Sub(t0)
	ok := finite(lv)
	if ok {
		tp.Backward(loss.Total)
	}
	t2 := time.Now()
	t.times.Backward = t2.Sub(t1)
	if ok {
		ok = allFinite(t.grads)
	}
	if err := tp.Err(); err != nil { // a synchronized batch norm's reduction failed
		t.restoreBN()
		t.m.ZeroGrad()
		return StepMetrics{}, fmt.Errorf("training step %d: %w", step, err)
	}
	sm := StepMetrics{Step: step, Epoch: epoch, Loss: lv, LR: lr, KLCoeff: beta, NormCoeff: lambda,
		NormLoss: float64(loss.NormLoss), BNLoss: float64(loss.BNLoss)}
	b := float64(len(loss.Recon))
	for i := range loss.Recon {
		kl := 0.0
		for _, g := range out.KLAll {
			kl += float64(g.Data()[i])
		}
		sm.Recon += float64(loss.Recon[i]) / b
		sm.KL += kl / b
	}
	sm.NELBO = sm.Recon + sm.KL
	for _, d := range out.KLDiag {
		for _, v := range d {
			if v > 0.1 {
				sm.ActiveUnits++
			}
		}
	}
	if ok {
		t.opt.Update(t.params, t.grads, lr)
		t.prog.BadInARow = 0
	} else {
		// Nothing of a non-finite step reaches the model: no update, and the
		// running statistics it touched are put back.
		t.restoreBN()
		sm.Skipped = true
		t.prog.BadSteps++
		t.prog.BadInARow++
	}
	t.m.ZeroGrad()
	t.times.Update = time.Since(t2)
	t.prog.Step++
	if t.prog.BadInARow >= t.opts.MaxBadSteps {
		return sm, fmt.Errorf("%d consecutive steps had a non-finite loss or gradient (last loss %v at step %d); "+
			"try a larger --weight_decay_norm, --weight_decay_norm_anneal, or a lower --learning_rate", t.prog.BadInARow, lv, step)
	}
	return sm, nil
}

// saveBN keeps a copy of every batch-norm layer's running statistics.
func (t *Trainer) saveBN() {
	bns := t.m.BatchNorms()
	if t.bnSave == nil {
		n := 0
		for _, b := range bns {
			n += 2 * b.RunMean.Len()
		}
		t.bnSave = make([]float32, n)
		t.bnCount = make([]int64, len(bns))
	}
	off := 0
	for i, b := range bns {
		off += copy(t.bnSave[off:], b.RunMean.Data())
		off += copy(t.bnSave[off:], b.RunVar.Data())
		t.bnCount[i] = b.NumBatches
	}
}

// restoreBN puts back the statistics saved by saveBN.
func (t *Trainer) restoreBN() {
	off := 0
	for i, b := range t.m.BatchNorms() {
		off += copy(b.RunMean.Data(), t.bnSave[off:])
		off += copy(b.RunVar.Data(), t.bnSave[off:])
		b.NumBatches = t.bnCount[i]
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite(gs [][]float32) bool {
	for _, g := range gs {
		for _, v := range g {
			if v-v != 0 {
				return false
			}
		}
	}
	return true
}

// Run trains until the step budget, the time budget or ctx ends, writing periodic
// checkpoints, metrics, evaluations and pictures into the run directory, and a final
// checkpoint (also when interrupted).
func (t *Trainer) Run(ctx context.Context) (*Summary, error) {
	o := t.opts
	var err error
	t.metrics, err = report.NewJSONL(filepath.Join(o.Out, "metrics.jsonl"), t.prog.Step > 0)
	if err != nil {
		return nil, err
	}
	if t.prog.Step > 0 {
		t.history, _ = report.ReadJSONL(t.metrics.Path())
	}
	t.events, err = report.NewEventWriter(filepath.Join(o.Out, "tensorboard"))
	if err != nil {
		return nil, err
	}
	total := t.prog.TotalSteps
	barTotal := int64(total)
	if o.Steps == 0 && o.MaxMinutes > 0 {
		barTotal = 0
	}
	t.bar = report.NewProgress(o.Log, barTotal)
	sh := t.train.ImageShape()
	fmt.Fprintf(o.Log, "training NVAE (%s likelihood, %d parameters) on %s images %d×%d×%d: %d batches of %d per epoch, %d steps planned\n",
		t.cfg.Dataset, t.m.NumParams(), o.Data, sh[0], sh[1], sh[2], t.train.BatchesPerEpoch(), t.cfg.BatchSize, total)

	sum := &Summary{Checkpoint: filepath.Join(o.Out, modelfile.RunFile)}
	start := time.Now()
	base := t.prog.TrainSecond
	lastCkpt := time.Now()
	stepsThisRun := 0
	evalStep := -1
	var last StepMetrics
	iters := t.train.BatchesPerEpoch()
	for t.prog.Step < total {
		if ctx.Err() != nil {
			sum.Interrupted = true
			break
		}
		if o.MaxMinutes > 0 && time.Since(start).Minutes() >= o.MaxMinutes {
			break
		}
		st := time.Now()
		sm, err := t.StepOnce()
		if err != nil {
			t.bar.Println(err.Error())
			_ = t.checkpoint(base + time.Since(start).Seconds())
			return sum, err
		}
		sm.ImagesPerS = float64(t.cfg.BatchSize) / time.Since(st).Seconds()
		last = sm
		stepsThisRun++
		elapsed := time.Since(start).Seconds()
		t.bar.Update(report.Stats{Step: int64(t.prog.Step), Total: barTotal, Loss: sm.Loss, NELBO: sm.NELBO, KL: sm.KL,
			ImagesPerSec: float64(stepsThisRun*t.cfg.BatchSize) / elapsed})
		if sm.Skipped {
			t.bar.Println(fmt.Sprintf("step %d: non-finite loss or gradient, update skipped (%d so far)", sm.Step, t.prog.BadSteps))
		}
		if sm.Step%o.LogEvery == 0 || t.prog.Step == total {
			t.log(sm)
		}
		if o.CheckpointMinutes > 0 && time.Since(lastCkpt).Minutes() >= o.CheckpointMinutes {
			if err := t.checkpoint(base + elapsed); err != nil {
				return sum, err
			}
			lastCkpt = time.Now()
		}
		if t.shouldEval(iters, total) {
			r, err := t.evaluate(o.NumIWSamples)
			if err != nil {
				return sum, err
			}
			sum.Eval, evalStep = &r, t.prog.Step
		}
	}
	t.bar.Done()
	sum.Steps = t.prog.Step
	sum.BadSteps = t.prog.BadSteps
	sum.TrainSeconds = base + time.Since(start).Seconds()
	sum.LastLoss = last.Loss
	sum.StepsThisRun = stepsThisRun
	if stepsThisRun > 0 {
		sum.ImagesPerS = float64(stepsThisRun*t.cfg.BatchSize) / time.Since(start).Seconds()
	}
	if err := t.checkpoint(sum.TrainSeconds); err != nil {
		return sum, err
	}
	if err := t.pictures(); err != nil {
		return sum, err
	}
	if (sum.Eval == nil || evalStep != t.prog.Step) && !sum.Interrupted {
		r, err := t.evaluate(o.NumIWSamples)
		if err != nil {
			return sum, err
		}
		sum.Eval = &r
	}
	if o.FinalIWSamples > 0 && !sum.Interrupted {
		r, err := t.evaluate(o.FinalIWSamples)
		if err != nil {
			return sum, err
		}
		sum.FinalEval = &r
	}
	if err := t.plot(); err != nil {
		return sum, err
	}
	return sum, nil
}

// shouldEval applies the evaluation rule after a step.
func (t *Trainer) shouldEval(iters, total int) bool {
	s := t.prog.Step
	if t.opts.EvalEverySteps > 0 {
		return s%t.opts.EvalEverySteps == 0 && s < total
	}
	if s%iters != 0 || s >= total {
		return false
	}
	epoch := s/iters - 1
	freq := 1
	if t.cfg.Epochs > 50 {
		freq = 20
	}
	return epoch%freq == 0
}

// log appends a step's metrics to the JSONL file and the TensorBoard events.
func (t *Trainer) log(sm StepMetrics) {
	_ = t.metrics.Write(sm)
	rec := map[string]float64{"step": float64(sm.Step), "loss": sm.Loss, "nelbo": sm.NELBO, "recon": sm.Recon, "kl": sm.KL,
		"lr": sm.LR, "kl_coeff": sm.KLCoeff, "images_per_s": sm.ImagesPerS, "norm_loss": sm.NormLoss, "bn_loss": sm.BNLoss}
	t.history = append(t.history, rec)
	for _, kv := range []struct {
		tag string
		v   float64
	}{{"train/nelbo_iter", sm.Loss}, {"train/recon_iter", sm.Recon}, {"train/kl_iter", sm.KL}, {"train/lr", sm.LR},
		{"kl_coeff/coeff", sm.KLCoeff}, {"train/norm_loss", sm.NormLoss}, {"train/bn_loss", sm.BNLoss},
		{"train/norm_coeff", sm.NormCoeff}, {"kl/total_active", float64(sm.ActiveUnits)}} {
		_ = t.events.Scalar(kv.tag, int64(sm.Step), float32(kv.v))
	}
	_ = t.events.Flush()
}

// checkpoint saves the model and the run state atomically.
func (t *Trainer) checkpoint(trainSeconds float64) error {
	t.prog.TrainSecond = trainSeconds
	t.prog.Loader = t.train.State()
	return saveRun(filepath.Join(t.opts.Out, modelfile.RunFile), t.m, t.opt, t.prog, t.noise)
}

// evaluate computes the IW bound on the test split and logs it.
func (t *Trainer) evaluate(k int) (eval.Result, error) {
	l, err := data.EvalLoader(t.test, t.cfg.Dataset, t.cfg.NumXBits, t.cfg.BatchSize, uint64(t.cfg.Seed)+1)
	if err != nil {
		return eval.Result{}, fmt.Errorf("test data: %w", err)
	}
	defer l.Close()
	r, err := eval.NLL(context.Background(), t.m, eval.LoaderSource(l), eval.Options{K: k, MaxImages: t.opts.EvalImages, Noise: t.noise})
	if err != nil {
		return r, err
	}
	step := int64(t.prog.Step)
	_ = t.events.Scalar("val/neg_log_p", step, float32(r.NLLNats))
	_ = t.events.Scalar("val/nelbo", step, float32(r.NELBONats))
	_ = t.events.Scalar("val/bpd_log_p", step, float32(r.BPD))
	_ = t.events.Scalar("val/bpd_elbo", step, float32(r.BPDELBO))
	_ = t.metrics.Write(map[string]any{"step": t.prog.Step, "val_nll": r.NLLNats, "val_nelbo": r.NELBONats, "val_bpd": r.BPD,
		"val_images": r.NumImages, "val_iw_samples": r.NumIWSamples})
	t.history = append(t.history, map[string]float64{"step": float64(t.prog.Step), "val_nelbo": r.NELBONats, "val_nll": r.NLLNats})
	t.bar.Println(fmt.Sprintf("step %d: test NELBO %.2f nats, IW bound (K=%d) %.2f nats, %.4f bits/dim on %d images",
		t.prog.Step, r.NELBONats, r.NumIWSamples, r.NLLNats, r.BPD, r.NumImages))
	if err := t.pictures(); err != nil {
		return r, err
	}
	return r, nil
}

// pictures writes sample grids at the official temperatures and a reconstruction grid.
func (t *Trainer) pictures() error {
	o := t.opts
	for _, temp := range []float32{0.7, 1.0} {
		img, err := eval.Sample(t.m, 16, temp, eval.PixelSampleT, t.noise, t.noise.Rand())
		if err != nil {
			return err
		}
		g, err := report.Grid(img, 4)
		if err != nil {
			return err
		}
		if err := report.SavePNG(filepath.Join(o.Out, fmt.Sprintf("samples_t%.1f.png", temp)), g); err != nil {
			return err
		}
	}
	l, err := data.EvalLoader(t.test, t.cfg.Dataset, t.cfg.NumXBits, 16, 7)
	if err != nil {
		return err
	}
	defer l.Close()
	b, err := l.Next()
	if err != nil {
		return err
	}
	defer b.Release()
	rec := eval.Reconstruct(t.m, b.X, eval.PixelDefault, t.noise, t.noise.Rand())
	g, err := report.ReconGrid(b.X, rec, 4, 0)
	if err != nil {
		return err
	}
	return report.SavePNG(filepath.Join(o.Out, "reconstructions.png"), g)
}

// plot draws the training curves from the metrics history.
func (t *Trainer) plot() error {
	series := report.SeriesFromRecords(t.history, "step", "loss", "nelbo", "recon", "kl", "lr", "kl_coeff", "images_per_s", "val_nelbo", "val_nll")
	err := report.PlotCurves(filepath.Join(t.opts.Out, "curves.png"), series, report.PlotOptions{Title: "NVAE training: " + t.cfg.Dataset})
	if err != nil {
		return fmt.Errorf("plotting the curves: %w", err)
	}
	return nil
}
