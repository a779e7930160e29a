// Package eval measures and shows a trained NVAE: the importance-weighted negative
// log-likelihood and bits per dimension (docs/model.md#evaluation), generative samples with temperature
// and BN re-adjustment, and reconstructions (docs/model.md#sampling).
package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// Result is the outcome of an evaluation, in nats per image and bits per dimension.
type Result struct {
	NLLNats      float64 `json:"nll_nats"`   // −log p̂(x), the importance-weighted bound
	BPD          float64 `json:"bpd"`        // NLLNats / (ln 2 · D)
	NELBONats    float64 `json:"nelbo_nats"` // negative ELBO (β = 1, no balancing)
	BPDELBO      float64 `json:"bpd_elbo"`
	NumImages    int     `json:"num_images"`
	NumIWSamples int     `json:"num_iw_samples"`
	Dims         int     `json:"dims"` // D used for bits/dim
	// Partial marks a result over only the images evaluated before the evaluation
	// was stopped.
	Partial bool `json:"partial"`
}

// Dims is the number of dimensions the likelihood covers: 784 for the cropped binary
// datasets, C·H·W otherwise (docs/model.md#importance-weighted-nll).
func Dims(cfg model.Config) int {
	if cfg.CropOutput() {
		return 28 * 28
	}
	s := cfg.ImageSize()
	return cfg.ImageChannels() * s * s
}

// Source yields evaluation batches, NHWC images in [0,1] (already preprocessed: bit
// depth, binarisation). It returns a nil tensor at the end. release, when not nil,
// is called once the batch is no longer needed.
type Source func() (x *tensor.Tensor, release func(), err error)

// LoaderSource yields one epoch of a loader (which should neither shuffle nor drop
// images).
func LoaderSource(l *data.Loader) Source {
	left := l.BatchesPerEpoch()
	return func() (*tensor.Tensor, func(), error) {
		if left == 0 {
			return nil, nil, nil
		}
		left--
		b, err := l.Next()
		if err != nil {
			return nil, nil, err
		}
		return b.X, b.Release, nil
	}
}

// TensorSource yields x (NHWC) in batches of size batch.
func TensorSource(x *tensor.Tensor, batch int) Source {
	n := x.Shape()[0]
	next := 0
	return func() (*tensor.Tensor, func(), error) {
		if next >= n {
			return nil, nil, nil
		}
		hi := min(next+batch, n)
		b := rows(x, next, hi)
		next = hi
		return b, nil, nil
	}
}

// Options configure NLL.
type Options struct {
	// K is the number of importance samples per image (at least 1).
	K int
	// MaxImages > 0 stops after that many images.
	MaxImages int
	// Noise supplies the posterior samples' standard-normal draws.
	Noise model.Noise
	// Progress, when not nil, is called after every forward pass with the work done so
	// far (from the calling goroutine).
	Progress func(Progress)
	// MemoryBudget bounds the working set of one forward pass in bytes: the importance
	// samples of a batch run as one larger batch of as many images as fit. 0 means
	// DefaultMemoryBudget.
	MemoryBudget int64
	// Workers is how many parts of a batch (sets of its images) are evaluated at the
	// same time, each with the engine's loops run serially (cpu.Spread): coarse-grained
	// parallelism, which wastes less than splitting every operation. 0 means
	// cpu.Workers(); 1 runs the whole batch as one part with parallel operations. The
	// result does not depend on it.
	Workers int
}

// DefaultMemoryBudget is the working set NLL allows one forward pass by default. More
// samples per pass save little once a pass has some hundred images, while a working
// set that leaves the last-level cache costs: on the demo model (2-core Zen 3, batch
// 32) 16 MB evaluated about 7% faster than 64 MB in paired runs, and the mnist preset
// runs one sample per pass either way.
const DefaultMemoryBudget = 16 << 20

// Progress is how far an evaluation has come.
type Progress struct {
	// Images is the number of images whose K samples are all done.
	Images int
	// Forwards is the number of (image, importance sample) forward passes done,
	// counting those of the batch in progress.
	Forwards int64
}

// NLL runs the importance-weighted evaluation of docs/model.md#importance-weighted-nll
// over the batches of src, with o.K posterior samples per image and eval-mode batch
// normalisation (a batch is binarised once and reused for its K samples, as
// officially). The K samples of a batch run as one larger batch (as many at a time as
// o.MemoryBudget allows) on the inference path; the noise is drawn in the same order as
// one sample at a time, so the result does not depend on how they are grouped.
//
// When ctx is cancelled the evaluation stops within one operation of the forward
// pass and the result covers the images whose K samples were all done, with Partial
// set (an error when there are none).
func NLL(ctx context.Context, m *model.Model, src Source, o Options) (Result, error) {
	k := o.K
	if k < 1 {
		return Result{}, fmt.Errorf("eval: need at least one importance sample, got %d", k)
	}
	if o.Noise == nil {
		return Result{}, errors.New("eval: no noise source for the posterior samples")
	}
	e := &evaluator{ctx: ctx, m: m, o: o, budget: o.MemoryBudget, workers: o.Workers}
	if e.budget <= 0 {
		e.budget = DefaultMemoryBudget
	}
	if e.workers <= 0 {
		e.workers = cpu.Workers()
	}
	if !m.ConcurrentInference() {
		e.workers = 1
	}
	cfg := m.Cfg
	res := Result{NumIWSamples: k, Dims: Dims(cfg)}
	var sumNLL, sumELBO float64
	stopped := false
	// the effective and folded weights, computed once for every pass
	e.prepared = ad.NewInferenceTape()
	defer e.prepared.Release()
	m.PrepareInference(e.prepared)
	for b := 0; !stopped && (o.MaxImages <= 0 || res.NumImages < o.MaxImages); b++ {
		if ctx.Err() != nil {
			stopped = true
			break
		}
		x, release, err := src()
		if err != nil {
			return res, fmt.Errorf("eval: reading batch %d: %w", b, err)
		}
		if x == nil {
			break
		}
		if s := x.Shape(); len(s) != 4 || s[1] != cfg.ImageSize() || s[2] != cfg.ImageSize() || s[3] != cfg.ImageChannels() {
			if release != nil {
				release()
			}
			return res, fmt.Errorf("eval: batch of shape %v, but the model takes [N,%d,%d,%d] images", s, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels())
		}
		n := x.Shape()[0]
		if o.MaxImages > 0 && res.NumImages+n > o.MaxImages {
			n = o.MaxImages - res.NumImages
			x = rows(x, 0, n)
		}
		logw, elbo, err := e.batch(x, res.NumImages)
		if release != nil {
			release()
		}
		if errors.Is(err, errStopped) {
			stopped = true
			break
		}
		if err != nil {
			return res, err
		}
		sumELBO += elbo
		for i := 0; i < n; i++ {
			sumNLL -= logSumExp(logw[i]) - math.Log(float64(k))
		}
		res.NumImages += n
		if o.Progress != nil {
			o.Progress(Progress{Images: res.NumImages, Forwards: e.forwards})
		}
	}
	res.Partial = stopped
	if res.NumImages == 0 {
		if stopped {
			return res, fmt.Errorf("eval: stopped before any image was evaluated: %w", context.Cause(ctx))
		}
		return res, errors.New("eval: no images to evaluate")
	}
	res.NLLNats = sumNLL / float64(res.NumImages)
	res.NELBONats = sumELBO / float64(res.NumImages*k)
	res.BPD = res.NLLNats / (math.Ln2 * float64(res.Dims))
	res.BPDELBO = res.NELBONats / (math.Ln2 * float64(res.Dims))
	if math.IsNaN(res.NLLNats) || math.IsInf(res.NLLNats, 0) {
		return res, fmt.Errorf("eval: the likelihood is not finite (%v)", res.NLLNats)
	}
	return res, nil
}

// evaluator is what the batches of one NLL call share.
type evaluator struct {
	ctx      context.Context
	m        *model.Model
	o        Options
	prepared *ad.Tape // the weights every pass uses (Model.PrepareInference)
	budget   int64
	workers  int
	perImage int64 // working-set bytes per image forward, measured on the first pass
	forwards int64 // (image, sample) forwards done
}

// batch runs the o.K importance samples of the n images of x (done images were
// evaluated before it): per image, the K log-weights, and the sum over images and
// samples of the negative ELBO. The images are split into parts evaluated at the same
// time, one per worker, each on its own tapes with the engine's loops serial
// (cpu.Spread); the samples of a part run as one larger batch, as many at a time as
// the memory budget allows. It returns errStopped when ctx was cancelled.
func (e *evaluator) batch(x *tensor.Tensor, done int) (logw [][]float64, elbo float64, err error) {
	k, n := e.o.K, x.Shape()[0]
	logw = make([][]float64, n)
	for i := range logw {
		logw[i] = make([]float64, k)
	}
	parts := splitRows(n, e.workers)
	xs := make([]*tensor.Tensor, len(parts))
	for p, r := range parts {
		xs[p] = rows(x, r[0], r[1])
	}
	encs := make([]encoding, len(parts))
	errs := make([]error, len(parts))
	spread(len(parts), func(p int) { encs[p], errs[p] = encodeBatch(e.ctx, e.m, e.prepared, xs[p]) })
	defer func() {
		for _, enc := range encs {
			if enc.tp != nil {
				enc.release()
			}
		}
	}()
	if err := joinPartErrors(errs); err != nil {
		return nil, 0, err
	}
	largest := parts[0][1] - parts[0][0]
	// record adds the results of the pass over samples [j0, j0+c) of part p.
	record := func(p, j0, c int, pass iwResult) {
		lo, hi := parts[p][0], parts[p][1]
		np := hi - lo
		for j := 0; j < c; j++ {
			for i := 0; i < np; i++ {
				r := j*np + i
				elbo += pass.recon[r] + pass.kl[r]
				logw[lo+i][j0+j] = -pass.recon[r] - pass.logQ[r] + pass.logP[r]
			}
		}
	}
	j0 := 0
	if e.perImage == 0 {
		// The first pass of an evaluation runs one sample, all parts together, to
		// measure the working set per image forward that sizes the others.
		draws := drawNoise(e.m, n, 1, e.o.Noise)
		results := make([]iwResult, len(parts))
		spread(len(parts), func(p int) {
			lo, hi := parts[p][0], parts[p][1]
			results[p], errs[p] = iwPass(e.ctx, e.m, e.prepared, encs[p], xs[p], 1, sliceDraws(draws, n, lo, hi))
		})
		if err := joinPartErrors(errs); err != nil {
			return nil, 0, err
		}
		for p, pass := range results {
			np := parts[p][1] - parts[p][0]
			e.perImage = max(e.perImage, pass.peak/int64(np), 1)
			record(p, 0, 1, pass)
		}
		j0 = 1
		e.forwards += int64(n)
		if e.o.Progress != nil {
			e.o.Progress(Progress{Images: done, Forwards: e.forwards})
		}
	}
	// The other passes, of (nearly) equal size, as many samples as the budget allows.
	type span struct{ j0, c int }
	var plan []span
	for j := j0; j < k; {
		c := int(max(e.budget/int64(len(parts))/(e.perImage*int64(largest)), 1))
		passes := (k - j + c - 1) / c
		c = min((k-j+passes-1)/passes, k-j)
		plan = append(plan, span{j, c})
		j += c
	}
	if len(plan) == 0 {
		return logw, elbo, nil
	}
	// Each part runs its passes one after the other without waiting for the others
	// (no barrier per pass: a part slowed down for a moment does not hold the other
	// cores). One goroutine draws the noise of the passes in order, as one sample at a
	// time would, and hands each part its rows, a few passes ahead.
	feeds := make([]chan [][]*tensor.Tensor, len(parts))
	for p := range feeds {
		feeds[p] = make(chan [][]*tensor.Tensor, 2)
	}
	quit := make(chan struct{})
	drawn := make(chan struct{})
	var quitOnce sync.Once
	stop := func() { quitOnce.Do(func() { close(quit) }) }
	var drawPanic any // a panic of the noise source, raised again in the caller
	go func() {
		defer close(drawn)
		defer func() {
			if r := recover(); r != nil {
				drawPanic = r
				stop()
			}
		}()
		for _, sp := range plan {
			draws := drawNoise(e.m, n, sp.c, e.o.Noise)
			for p, r := range parts {
				select {
				case feeds[p] <- sliceDraws(draws, n, r[0], r[1]):
				case <-quit:
					return
				}
			}
		}
	}()
	// the noise source is the caller's again once the drawing goroutine has ended
	defer func() { stop(); <-drawn }()
	results := make([][]iwResult, len(parts))
	var forwards atomic.Int64 // (image, sample) forwards done in these passes
	base := e.forwards
	spread(len(parts), func(p int) {
		// a part that ends early (an error, a cancellation, a panic) stops the
		// others, which would otherwise wait for noise the drawing goroutine
		// cannot hand out past this part's full feed
		finished := false
		defer func() {
			if !finished {
				stop()
			}
		}()
		np := parts[p][1] - parts[p][0]
		results[p] = make([]iwResult, len(plan))
		for i, sp := range plan {
			var draws [][]*tensor.Tensor
			select {
			case draws = <-feeds[p]:
			case <-quit:
				errs[p] = errStopped
				return
			}
			res, err := iwPass(e.ctx, e.m, e.prepared, encs[p], xs[p], sp.c, draws)
			if err != nil {
				errs[p] = err // the other parts stop at their next pass
				return
			}
			results[p][i] = res
			forwards.Add(int64(sp.c * np))
			if p == 0 && e.o.Progress != nil { // part 0 runs on the calling goroutine
				e.o.Progress(Progress{Images: done, Forwards: base + forwards.Load()})
			}
		}
		finished = true
	})
	stop()
	<-drawn
	if drawPanic != nil {
		panic(drawPanic)
	}
	if err := joinPartErrors(errs); err != nil {
		return nil, 0, err
	}
	for i, sp := range plan { // in the order of one pass at a time
		for p := range parts {
			record(p, sp.j0, sp.c, results[p][i])
		}
	}
	e.forwards = base + forwards.Load()
	return logw, elbo, nil
}

// joinPartErrors is nil when no part failed, errStopped when the parts that failed
// were all stopped, and their errors joined otherwise.
func joinPartErrors(errs []error) error {
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	for _, e := range errs {
		if e != nil && !errors.Is(e, errStopped) {
			return err
		}
	}
	return errStopped
}

// errStopped reports a pass cut short by a cancelled context.
var errStopped = errors.New("eval: stopped")

// iwResult holds the per-row terms of one importance-weighted pass (row j·n + i is
// image i under sample j) and the pass's peak working set in bytes.
type iwResult struct {
	recon, kl, logQ, logP []float64
	peak                  int64
}

// encoding is a batch's encoder features and the tape that holds them.
type encoding struct {
	e  *model.Encoded
	tp *ad.Tape
}

func (e encoding) release() { e.tp.Release() }

// encodeBatch runs the encoder on x once for all of the batch's samples (on an
// inference tape sharing the prepared weights, stopped by ctx).
func encodeBatch(ctx context.Context, m *model.Model, prepared *ad.Tape, x *tensor.Tensor) (enc encoding, err error) {
	tp := ad.NewInferenceTape()
	tp.ShareMemo(prepared)
	tp.StopWhen(func() bool { return ctx.Err() != nil })
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(ad.Stopped); !ok {
				panic(r)
			}
			tp.Release()
			err = errStopped
		}
	}()
	return encoding{e: m.EncodeForSamples(tp, x), tp: tp}, nil
}

// iwPass runs c importance samples of the n images of x (encoded in enc) as one
// batch of c·n images, with the noise draws (per latent group, per sample: see
// drawNoise).
func iwPass(ctx context.Context, m *model.Model, prepared *ad.Tape, enc encoding, x *tensor.Tensor, c int, draws [][]*tensor.Tensor) (res iwResult, err error) {
	n := x.Shape()[0]
	xc := x
	if c > 1 {
		xc = tensor.New(append([]int{c * n}, x.Shape()[1:]...)...)
		for j := 0; j < c; j++ {
			copy(xc.Data()[j*x.Len():], x.Data())
		}
	}
	tp := ad.NewInferenceTape()
	defer tp.Release()
	tp.ShareMemo(prepared)
	tp.StopWhen(func() bool { return ctx.Err() != nil })
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(ad.Stopped); !ok {
				panic(r)
			}
			err = errStopped
		}
	}()
	out := m.ForwardEncoded(tp, enc.e, c, &stackedNoise{draws: draws})
	recon := m.ReconLoss(tp, out, xc).Data()
	nr := c * n
	res = iwResult{recon: make([]float64, nr), kl: make([]float64, nr), logQ: make([]float64, nr), logP: make([]float64, nr)}
	lq, lp := out.LogQ.Data(), out.LogP.Data()
	for r := 0; r < nr; r++ {
		kl := 0.0
		for _, g := range out.KLAll {
			kl += float64(g.Data()[r])
		}
		res.recon[r], res.kl[r], res.logQ[r], res.logP[r] = float64(recon[r]), kl, float64(lq[r]), float64(lp[r])
	}
	res.peak = tp.PeakBytes()
	return res, nil
}

// drawNoise draws the noise of c importance samples of n images: per latent group, per
// sample, a tensor of the group's shape for the n images. The draws are made sample by
// sample, each sample's groups in order, as c separate passes would make them.
func drawNoise(m *model.Model, n, c int, noise model.Noise) [][]*tensor.Tensor {
	shapes := m.LatentShapes(n)
	draws := make([][]*tensor.Tensor, len(shapes))
	for j := 0; j < c; j++ {
		for l, s := range shapes {
			draws[l] = append(draws[l], noise.Normal(s...))
		}
	}
	return draws
}

// sliceDraws returns the rows [lo, hi) of draws made for n images (views, no copy).
func sliceDraws(draws [][]*tensor.Tensor, n, lo, hi int) [][]*tensor.Tensor {
	if lo == 0 && hi == n {
		return draws
	}
	out := make([][]*tensor.Tensor, len(draws))
	for l, ds := range draws {
		for _, d := range ds {
			out[l] = append(out[l], rows(d, lo, hi))
		}
	}
	return out
}

// rows returns rows [lo, hi) along the first axis of t, sharing its storage.
func rows(t *tensor.Tensor, lo, hi int) *tensor.Tensor {
	s := t.Shape()
	if lo == 0 && hi == s[0] {
		return t
	}
	per := t.Len() / s[0]
	return tensor.FromData(t.Data()[lo*per:hi*per], append([]int{hi - lo}, s[1:]...)...)
}

// splitRows splits n rows into min(parts, n) contiguous ranges of nearly equal size.
func splitRows(n, parts int) [][2]int {
	parts = max(min(parts, n), 1)
	out := make([][2]int, parts)
	for p := range out {
		out[p] = [2]int{p * n / parts, (p + 1) * n / parts}
	}
	return out
}

// spread runs fn for parts 0…n−1: at the same time on cpu.Spread when there are
// several, directly (with the engine's parallel loops) when there is one.
func spread(n int, fn func(p int)) {
	if n == 1 {
		fn(0)
		return
	}
	cpu.Spread(n, fn)
}

// stackedNoise hands a forward pass over c stacked copies of a batch the draws made for
// each copy: the l-th call returns group l's draws of every copy, stacked along the
// batch axis.
type stackedNoise struct {
	draws [][]*tensor.Tensor
	next  int
}

func (s *stackedNoise) Normal(shape ...int) *tensor.Tensor {
	if s.next >= len(s.draws) {
		panic(fmt.Sprintf("eval: the forward pass drew noise for more than %d latent groups", len(s.draws)))
	}
	ds := s.draws[s.next]
	s.next++
	if len(ds) == 1 {
		return ds[0]
	}
	out := tensor.New(shape...)
	off := 0
	for _, d := range ds {
		off += copy(out.Data()[off:], d.Data())
	}
	if off != out.Len() {
		panic(fmt.Sprintf("eval: noise of shape %v for %d stacked draws of %v", shape, len(ds), ds[0].Shape()))
	}
	return out
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
