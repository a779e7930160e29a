package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/comm"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/internal/runlock"
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
	Steps        int     `json:"steps"`
	BadSteps     int     `json:"bad_steps"`
	TrainSeconds float64 `json:"train_seconds"`
	// WallSeconds is the time this call took, the evaluations and pictures after the
	// last step included; EvalSeconds is the part of it spent evaluating (with the
	// pictures drawn after each evaluation).
	WallSeconds float64      `json:"wall_seconds"`
	EvalSeconds float64      `json:"eval_seconds"`
	ImagesPerS  float64      `json:"images_per_s"`
	LastLoss    float64      `json:"last_loss"`
	Eval        *eval.Result `json:"eval,omitempty"`
	FinalEval   *eval.Result `json:"final_eval,omitempty"`
	Checkpoint  string       `json:"checkpoint"`
	Interrupted bool         `json:"interrupted"`
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
	// dp is the data-parallel state of a run over several ranks, nil otherwise; rank
	// is this process's rank (0 alone).
	dp   *dp
	rank int
	// wantStop is this rank's wish to end the run after the step (an interruption: 1
	// from a signal, 2 from the time budget); stop is the ranks' agreement on it.
	wantStop, stop [2]bool

	metrics *report.JSONL
	events  *report.EventWriter
	bar     *report.Progress
	history []map[string]float64
	lock    *runlock.Lock
	// evalSeconds accumulates the time spent in evaluate.
	evalSeconds float64
}

// New prepares a run: data, model, optimizer and schedules, resuming from the run
// directory's checkpoint when asked and present. The run directory is locked
// (runlock) until Close, so a second run there fails at once; a checkpoint that a
// fresh run (Resume false) would replace is refused unless Force is set.
func New(opts Options) (t *Trainer, err error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := opts.Comm
	rank, world := c.Rank(), c.Size()
	if rank == 0 {
		if err := os.MkdirAll(opts.Out, 0o755); err != nil {
			return nil, fmt.Errorf("creating the run directory: %w", err)
		}
	}
	// Rank 0 owns the run directory: it alone writes there, so it alone locks it.
	var lock *runlock.Lock
	if rank == 0 {
		if lock, err = runlock.Acquire(opts.Out); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	// Safe only while no other process writes into the directory: rank 0 holds the
	// run lock, and only rank 0 writes there.
	if rank == 0 {
		if err := removeStaleTemps(opts.Out, opts.Log); err != nil {
			return nil, err
		}
	}
	ckpt := filepath.Join(opts.Out, modelfile.RunFile)
	if !opts.Resume && !opts.Force && exists(ckpt) {
		return nil, fmt.Errorf("%s already holds a checkpoint that a new run would replace: resume it (drop --resume=false), choose another --out, or give --force to replace it", ckpt)
	}
	var saved *modelfile.File
	var savedProg *Progress
	// Rank 0 decides whether the run resumes; the other ranks then read the same file
	// (the run directory must be shared between the machines of a job).
	resume := []byte{0}
	if opts.Resume && exists(ckpt) {
		resume[0] = 1
	}
	if err := c.BroadcastBytes(resume, 0); err != nil {
		return nil, fmt.Errorf("agreeing on resuming: %w", err)
	}
	if resume[0] == 1 {
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
		if w := max(p.World, 1); w != world {
			return nil, fmt.Errorf("%s was written by a data-parallel run of %d process(es) and this run has %d: "+
				"resume it with the same number (mpirun -np %d), or start a new run with another --out "+
				"(the global batch, the data order and the batch statistics depend on the number of processes)", ckpt, w, world, w)
		}
		saved, savedProg = f, p
		opts.Config = f.Config
		opts.Steps, opts.WarmupSteps, opts.KLAnnealSteps, opts.KLConstSteps = p.Steps, p.WarmupSteps, p.KLAnnealSteps, p.KLConstSteps
		if opts.ResumeEpochs > 0 {
			opts.Config.Epochs = opts.ResumeEpochs
		}
		if opts.ResumeSteps > 0 && opts.Steps > 0 {
			opts.Steps = opts.ResumeSteps
		}
	}
	t = &Trainer{opts: opts, cfg: opts.Config, rank: rank, lock: lock}
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
	lc := data.LoaderConfig{BatchSize: cfg.BatchSize, Shuffle: true, DropLast: true, Seed: uint64(cfg.Seed), Transform: tr}
	if world > 1 {
		lc.Rank, lc.World = rank, world
	}
	t.train, err = data.NewLoader(dsTrain, lc)
	if err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	if err := checkShape(t.train, cfg, dsTrain.Name); err != nil {
		return nil, err
	}
	if t.train.BatchesPerEpoch() == 0 {
		return nil, fmt.Errorf("training data %s has %d images, fewer than one batch of %d per process for %d process(es)", dsTrain.Name, dsTrain.N, cfg.BatchSize, world)
	}

	t.m, err = model.New(cfg, uint64(cfg.Seed))
	if err != nil {
		return nil, err
	}
	t.m.RecomputeCells = opts.RecomputeCells
	t.m.Precision = opts.Precision
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
		ls := savedProg.Loader // rank 0's; every rank is at the same place of its shard
		if world > 1 {
			ls.Rank = rank
		}
		if err := t.train.Restore(ls); err != nil {
			return nil, fmt.Errorf("%s: %w", ckpt, err)
		}
		p := *savedProg
		t.prog.Step, t.prog.BadSteps, t.prog.BadInARow, t.prog.TrainSecond = p.Step, p.BadSteps, p.BadInARow, p.TrainSecond
		fmt.Fprintf(opts.Log, "resuming %s at step %d\n", ckpt, p.Step)
	}
	if world > 1 {
		if err := t.startDP(c); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// startDP makes t train data-parallel over the ranks of c: synchronized batch norm,
// and rank 0's parameters on every rank.
func (t *Trainer) startDP(c comm.Comm) error {
	lens := make([]int, len(t.params))
	for i, p := range t.params {
		lens[i] = len(p)
	}
	t.dp = newDP(c, lens)
	t.m.SetStatReducer(t.dp.reducer())
	return t.dp.broadcastParams(t.params)
}

// CommStats returns what the collectives of a data-parallel trainer have cost so far
// (zero for one process).
func (t *Trainer) CommStats() CommStats {
	if t.dp == nil {
		return CommStats{}
	}
	return t.dp.stats
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

// Close releases the data loader, log files and the run directory's lock.
func (t *Trainer) Close() {
	defer t.lock.Release()
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
	// Comm is the time spent in collectives (data-parallel runs; part of the phases
	// above), GradBytes the gradient bytes all-reduced.
	Comm      time.Duration
	GradBytes int64
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
	// Noise, when not nil, replaces the noise drawn from Seed in the steps.
	Noise model.Noise
	// Comm, when it has more than one rank, makes the steps data-parallel.
	Comm comm.Comm
}

// NewFixed returns a trainer of m whose StepOnce trains on f. It has no data, logs or
// checkpoints: use StepOnce, LastStepTimes and Model only. A non-finite step is skipped
// as in a run but never stops it. With a Comm of more than one rank it trains
// data-parallel: every rank passes its own batch (the losses and gradients are
// averaged, batch norm is synchronized, the parameters start as rank 0's).
func NewFixed(m *model.Model, f Fixed) (*Trainer, error) {
	if f.Batch == nil {
		return nil, fmt.Errorf("train.NewFixed: no batch")
	}
	t := &Trainer{m: m, cfg: m.Cfg, fixed: &f, noise: model.NewSeededNoise(f.Seed), opts: Options{MaxBadSteps: math.MaxInt}}
	if err := t.setOptimizer(f.WeightDecay); err != nil {
		return nil, fmt.Errorf("train.NewFixed: %w", err)
	}
	if f.Comm != nil && f.Comm.Size() > 1 {
		t.rank = f.Comm.Rank()
		if err := t.startDP(f.Comm); err != nil {
			return nil, fmt.Errorf("train.NewFixed: %w", err)
		}
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
	if t.dp != nil && batch.Step%AverageParamsEvery == 0 {
		if err := t.dp.averageParams(t.params); err != nil {
			return StepMetrics{}, fmt.Errorf("training step %d: %w", t.prog.Step, err)
		}
	}
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
	var comm0 CommStats
	if t.dp != nil {
		comm0 = t.dp.stats
	}
	t.saveBN()
	tp := ad.NewTape()
	defer tp.Release()
	noise := model.Noise(t.noise)
	if t.fixed != nil && t.fixed.Noise != nil {
		noise = t.fixed.Noise
	}
	fail := func(err error) (StepMetrics, error) {
		t.restoreBN()
		t.m.ZeroGrad()
		return StepMetrics{}, fmt.Errorf("training step %d: %w", step, err)
	}
	out := t.m.Forward(tp, x, true, noise)
	loss := t.m.Loss(tp, out, x, float32(beta), float32(lambda), noise)
	if err := tp.Err(); err != nil { // a synchronized batch norm's reduction failed
		return fail(err)
	}
	sm := StepMetrics{Step: step, Epoch: epoch, Loss: float64(loss.Total.Value.Item()), LR: lr, KLCoeff: beta, NormCoeff: lambda,
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
	for _, d := range out.KLDiag {
		for _, v := range d {
			if v > 0.1 {
				sm.ActiveUnits++
			}
		}
	}
	if t.dp != nil {
		// The ranks' means: the loss of the global batch, and one verdict on finiteness
		// (a non-finite loss on any rank makes the mean non-finite on all). The last two
		// values count the ranks that want the run to end after this step.
		v := []float64{sm.Loss, sm.Recon, sm.KL, float64(sm.ActiveUnits), b2f(t.wantStop[0]), b2f(t.wantStop[1])}
		if err := t.dp.average(v); err != nil {
			return fail(err)
		}
		sm.Loss, sm.Recon, sm.KL, sm.ActiveUnits = v[0], v[1], v[2], int(math.Round(v[3]))
		t.stop = [2]bool{v[4] > 0, v[5] > 0}
	}
	sm.NELBO = sm.Recon + sm.KL
	lv := sm.Loss
	t1 := time.Now()
	t.times.Forward = t1.Sub(t0)
	ok := finite(lv)
	if ok {
		tp.Backward(loss.Total)
	}
	t2 := time.Now()
	t.times.Backward = t2.Sub(t1)
	if err := tp.Err(); err != nil {
		return fail(err)
	}
	if ok && t.dp != nil {
		if err := t.dp.averageGrads(t.grads); err != nil {
			return fail(err)
		}
	}
	if ok {
		ok = allFinite(t.grads)
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
	if t.dp != nil {
		t.times.Comm = t.dp.stats.Time - comm0.Time
		t.times.GradBytes = t.dp.stats.GradBytes - comm0.GradBytes
	}
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

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
	if t.rank == 0 {
		var err error
		metricsPath := filepath.Join(o.Out, MetricsName)
		if t.prog.Step > 0 {
			// Rows logged after the checkpoint are about to be written again.
			if err := trimMetrics(metricsPath, t.prog.Step, t.prog.Step >= t.prog.TotalSteps); err != nil {
				return nil, err
			}
		}
		t.metrics, err = report.NewJSONL(metricsPath, t.prog.Step > 0)
		if err != nil {
			return nil, err
		}
		if t.prog.Step > 0 {
			t.history, _ = report.ReadJSONL(t.metrics.Path())
		}
		// A new event file, its points of steps ≥ t.prog.Step replacing those of the
		// earlier files for TensorBoard (the rows dropped from metrics.jsonl above).
		t.events, err = report.ResumeEventWriter(filepath.Join(o.Out, "tensorboard"), int64(t.prog.Step),
			keepEvents(t.prog.Step, t.prog.Step >= t.prog.TotalSteps))
		if err != nil {
			return nil, err
		}
	}
	total := t.prog.TotalSteps
	barTotal := int64(total)
	if o.Steps == 0 && o.MaxMinutes > 0 {
		barTotal = 0
	}
	t.bar = report.NewProgress(o.Log, barTotal)
	sh := t.train.ImageShape()
	fmt.Fprintf(o.Log, "training NVAE (%s likelihood, %d parameters) on %s images %d×%d×%d: %d batches of %d per epoch, %d steps planned\n",
		t.cfg.Dataset, t.m.NumParams(), o.Data, sh[0], sh[1], sh[2], t.train.BatchesPerEpoch(), t.globalBatch(), total)
	if w := o.Comm.Size(); w > 1 {
		fmt.Fprintf(o.Log, "data-parallel over %d processes (%s): %d images per process per step\n", w, o.Comm.Backend(), t.cfg.BatchSize)
	}

	sum := &Summary{Checkpoint: filepath.Join(o.Out, modelfile.RunFile)}
	start := time.Now()
	base := t.prog.TrainSecond
	lastCkpt := time.Now()
	stepsThisRun := 0
	evalStep := -1
	var last StepMetrics
	iters := t.train.BatchesPerEpoch()
	for t.prog.Step < total {
		sig := ctx.Err() != nil
		timeUp := o.MaxMinutes > 0 && time.Since(start).Minutes() >= o.MaxMinutes
		if t.dp == nil && sig {
			sum.Interrupted = true
			break
		}
		if t.dp == nil && timeUp {
			break
		}
		// The ranks of a data-parallel run agree in the step on ending after it.
		t.wantStop = [2]bool{sig || (o.StopAfter > 0 && stepsThisRun+1 >= o.StopAfter), timeUp}
		st := time.Now()
		sm, err := t.StepOnce()
		if err != nil {
			t.bar.Println(err.Error())
			_ = t.checkpoint(base + time.Since(start).Seconds())
			return sum, err
		}
		sm.ImagesPerS = float64(t.globalBatch()) / time.Since(st).Seconds()
		last = sm
		stepsThisRun++
		elapsed := time.Since(start).Seconds()
		t.bar.Update(report.Stats{Step: int64(t.prog.Step), Total: barTotal, Loss: sm.Loss, NELBO: sm.NELBO, KL: sm.KL,
			ImagesPerSec: float64(stepsThisRun*t.globalBatch()) / elapsed})
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
		if t.dp == nil && t.wantStop[0] && !sig { // StopAfter
			sum.Interrupted = true
			break
		}
		if t.dp != nil && (t.stop[0] || t.stop[1]) {
			sum.Interrupted = t.stop[0]
			break
		}
	}
	t.bar.Done()
	sum.Steps = t.prog.Step
	sum.BadSteps = t.prog.BadSteps
	sum.TrainSeconds = base + time.Since(start).Seconds()
	sum.LastLoss = last.Loss
	sum.StepsThisRun = stepsThisRun
	if stepsThisRun > 0 {
		sum.ImagesPerS = float64(stepsThisRun*t.globalBatch()) / time.Since(start).Seconds()
	}
	if err := t.checkpoint(sum.TrainSeconds); err != nil {
		return sum, err
	}
	if err := t.pictures(); err != nil {
		return sum, err
	}
	if err := t.syncNoise(); err != nil {
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
	err := t.plot()
	sum.EvalSeconds, sum.WallSeconds = t.evalSeconds, time.Since(start).Seconds()
	return sum, err
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

// globalBatch is the number of images of a step over all ranks.
func (t *Trainer) globalBatch() int { return t.cfg.BatchSize * t.opts.Comm.Size() }

// syncNoise gives every rank rank 0's noise generator. The ranks of a data-parallel run
// draw the same training noise (one seed, as upstream) but rank 0 alone draws the
// pictures, and the ranks' evaluation shares may differ: after those, the generators
// are made equal again, so the one in rank 0's checkpoint is every rank's.
func (t *Trainer) syncNoise() error {
	if t.dp == nil {
		return nil
	}
	b, err := t.noise.MarshalBinary()
	if err != nil {
		return err
	}
	if err := t.dp.c.BroadcastBytes(b, 0); err != nil {
		return fmt.Errorf("broadcasting the noise generator from rank 0: %w", err)
	}
	return t.noise.UnmarshalBinary(b)
}

// log appends a step's metrics to the JSONL file and the TensorBoard events (rank 0).
func (t *Trainer) log(sm StepMetrics) {
	if t.rank != 0 {
		return
	}
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

// checkpoint saves the model and the run state atomically (rank 0; the other ranks'
// state is the same).
func (t *Trainer) checkpoint(trainSeconds float64) error {
	if t.rank != 0 {
		return nil
	}
	t.prog.TrainSecond = trainSeconds
	t.prog.Loader = t.train.State()
	t.prog.World = t.opts.Comm.Size()
	return saveRun(filepath.Join(t.opts.Out, modelfile.RunFile), t.m, t.opt, t.prog, t.noise)
}

// evaluate computes the IW bound on the test split (each rank on its share, the
// results averaged) and logs it, showing its progress on Options.Progress; the time
// it takes counts in Summary.EvalSeconds.
func (t *Trainer) evaluate(k int) (eval.Result, error) {
	defer func(start time.Time) { t.evalSeconds += time.Since(start).Seconds() }(time.Now())
	c := t.opts.Comm
	l, err := ShardedEvalLoader(t.test, t.cfg.Dataset, t.cfg.NumXBits, t.cfg.BatchSize, uint64(t.cfg.Seed)+1, c.Rank(), c.Size())
	if err != nil {
		return eval.Result{}, fmt.Errorf("test data: %w", err)
	}
	defer l.Close()
	images := t.test.N
	if t.opts.EvalImages > 0 {
		images = min(images, t.opts.EvalImages)
	}
	images = EvalShare(images, c.Rank(), c.Size())
	task := report.NewTask(t.opts.Progress, fmt.Sprintf("evaluating at step %d (K=%d)", t.prog.Step, k), "images", int64(images))
	src, flush := countingSource(eval.LoaderSource(l), task)
	r, err := EvalSharded(context.Background(), c, t.m, src, eval.Options{K: k, MaxImages: t.opts.EvalImages, Noise: t.noise})
	flush()
	task.Done()
	if err != nil {
		return r, err
	}
	if t.rank != 0 {
		return r, t.syncNoise()
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
	return r, t.syncNoise()
}

// countingSource passes src through, telling task about each batch once the next
// one is asked for (that is, once it has been evaluated); flush counts the last one.
func countingSource(src eval.Source, task *report.Task) (eval.Source, func()) {
	pending := 0
	flush := func() {
		if pending > 0 {
			task.Add(pending)
		}
		pending = 0
	}
	return func() (*tensor.Tensor, func(), error) {
		flush()
		x, release, err := src()
		if x != nil {
			pending = x.Shape()[0]
		}
		return x, release, err
	}, flush
}

// pictures writes sample grids at the official temperatures and a reconstruction grid
// (rank 0).
func (t *Trainer) pictures() error {
	o := t.opts
	if t.rank != 0 {
		return nil
	}
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

// plot draws the training curves from the metrics history (rank 0).
func (t *Trainer) plot() error {
	if t.rank != 0 {
		return nil
	}
	series := report.SeriesFromRecords(t.history, "step", "loss", "nelbo", "recon", "kl", "lr", "kl_coeff", "images_per_s", "val_nelbo", "val_nll")
	err := report.PlotCurves(filepath.Join(t.opts.Out, "curves.png"), series, report.PlotOptions{Title: "NVAE training: " + t.cfg.Dataset})
	if err != nil {
		return fmt.Errorf("plotting the curves: %w", err)
	}
	return nil
}
