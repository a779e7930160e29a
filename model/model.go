// Package model is NVAE (Vahdat & Kautz 2020) as the official PyTorch code computes it: the
// bottom-up encoder, the top-down decoder with residual posteriors, optional encoder flows,
// the image likelihood and the training objective (KL warm-up/balancing, spectral and BN
// regularisation). Tensors are NHWC; state dicts use the official names and NCHW/OIHW layouts.
package model

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/backend/cpu"
	"github.com/nvae-go/nvae/dist"
	"github.com/nvae-go/nvae/nn"
	"github.com/nvae-go/nvae/tensor"
)

// Noise supplies every standard-normal draw of the model in the official order (NHWC shapes):
// one per latent group in decoder order during Forward/Sample, then the spectral regulariser's
// first-call draws (u then v per matrix-shape group) during Loss.
type Noise interface {
	Normal(shape ...int) *tensor.Tensor
}

// RandNoise is Noise from a math/rand/v2 source.
type RandNoise struct{ R *rand.Rand }

// Normal returns a tensor of standard-normal draws.
func (n RandNoise) Normal(shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(n.R.NormFloat64())
	}
	return t
}

// encEntry is an entry of the encoder tower: a cell or an encoder combiner (x + conv(dec)).
type encEntry struct {
	cell *cell
	comb *nn.Conv
}

// decEntry is an entry of the decoder tower: a cell or a decoder combiner (conv([s, z])).
type decEntry struct {
	cell *cell
	comb *nn.Conv
}

// Model is NVAE. Build it with New.
type Model struct {
	Cfg Config

	groups     []int // g_s, encoder order
	prior      *ad.Var
	stem       *nn.Conv
	pre        []*cell
	enc        []encEntry
	enc0       *nn.Conv
	encSampler []*nn.Conv
	decSampler []*nn.Conv
	nf         []*flowCell // per group: F pairs of (cell1, cell2)
	dec        []decEntry
	stemDec    *nn.Conv
	post       []*cell
	imgCond    *nn.Conv

	state  []stateEntry
	params []NamedParam
	convs  []*nn.Conv // registration order (spectral regularisation)
	bns    []*nn.BN
	sr     *nn.SpectralReg
	alpha  []float32
	train  bool

	// Trace, when set, receives the output of every top-level block (official module paths,
	// as in the fixtures' train_activations), for debugging.
	Trace func(name string, v *ad.Var)

	// RecomputeCells makes Forward keep only each cell's input and output for the
	// backward pass and recompute the cell's interior during Backward (gradient
	// checkpointing: less memory for about one more forward pass). Results, running
	// statistics included, are the same as without it.
	RecomputeCells bool

	// Precision is the arithmetic of the convolutions (ad.BF16: mixed precision, see
	// ad.BF16); Forward, Sample, Decode and DecodePartial set it on a tape that has
	// none. Parameters, statistics and losses stay float32 either way. It is a
	// run-time choice, not part of the saved state.
	Precision ad.Precision
}

// usePrecision sets the model's precision on tp unless tp has one already.
func (m *Model) usePrecision(tp *ad.Tape) {
	if m.Precision != ad.FP32 && tp.Precision() == ad.FP32 {
		tp.SetPrecision(m.Precision)
	}
}

// New builds the model with PyTorch-default initialisation from a seeded generator.
func New(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, groups: cfg.GroupsPerScale(), sr: nn.NewSpectralReg(), alpha: cfg.KLBalanceAlpha()}
	b := &builder{m: m, rng: rand.New(rand.NewPCG(seed, 0x6e766165))}
	scales, latent := cfg.NumLatentScales, cfg.NumLatentPerGroup
	encCh, decCh := cfg.NumChannelsEnc, cfg.NumChannelsDec
	// The tower's spatial side halves and its channels double at every downsampling:
	// top is the total reduction at the coarsest latent scale.
	top := 1 << (cfg.NumPreprocessBlocks + scales - 1)
	side := cfg.ImageSize() / top

	pf := tensor.New(1, side, side, decCh*top)
	for i := range pf.Data() {
		pf.Data()[i] = b.rng.Float32()
	}
	m.prior = ad.NewParam(pf)
	b.param("prior_ftr0", m.prior, layoutCHW)

	m.stem = b.wnConv("stem", cfg.ImageChannels(), encCh, 3, ad.ConvOpts{Pad: 1})

	mult := 1 // channel multiplier of the current resolution
	for blk := 0; blk < cfg.NumPreprocessBlocks; blk++ {
		for c := 0; c < cfg.NumPreprocessCells; c++ {
			name := fmt.Sprintf("pre_process.%d", len(m.pre))
			if c == cfg.NumPreprocessCells-1 {
				m.pre = append(m.pre, b.cell(name, "down_pre", encCh*mult, 2*encCh*mult))
				mult *= 2
			} else {
				m.pre = append(m.pre, b.cell(name, "normal_pre", encCh*mult, encCh*mult))
			}
		}
	}

	for s := 0; s < scales && !cfg.Vanilla(); s++ { // vanilla mode has no encoder tower
		for g := 0; g < m.groups[s]; g++ {
			for e := 0; e < cfg.NumCellPerCondEnc; e++ {
				name := fmt.Sprintf("enc_tower.%d", len(m.enc))
				m.enc = append(m.enc, encEntry{cell: b.cell(name, "normal_enc", encCh*mult, encCh*mult)})
			}
			if !(s == scales-1 && g == m.groups[s]-1) {
				name := fmt.Sprintf("enc_tower.%d.conv", len(m.enc))
				m.enc = append(m.enc, encEntry{comb: b.wnConv(name, decCh*mult, encCh*mult, 1, ad.ConvOpts{})})
			}
		}
		if s < scales-1 {
			name := fmt.Sprintf("enc_tower.%d", len(m.enc))
			m.enc = append(m.enc, encEntry{cell: b.cell(name, "down_enc", encCh*mult, 2*encCh*mult)})
			mult *= 2
		}
	}

	m.enc0 = b.wnConv("enc0.1", encCh*mult, encCh*mult, 1, ad.ConvOpts{})

	// samplers, decoder order: scale t (coarsest first) has multiplier topMult/2^t
	topMult := mult
	for t, tm := 0, topMult; t < scales; t, tm = t+1, tm/2 {
		for g := 0; g < m.groups[scales-1-t]; g++ {
			name := fmt.Sprintf("enc_sampler.%d", len(m.encSampler))
			m.encSampler = append(m.encSampler, b.wnConv(name, encCh*tm, 2*latent, 3, ad.ConvOpts{Pad: 1}))
		}
	}
	for t, tm := 0, topMult; t < scales; t, tm = t+1, tm/2 {
		for g := 0; g < m.groups[scales-1-t]; g++ {
			if t == 0 && g == 0 {
				continue // the top group's prior is N(0, 1)
			}
			name := fmt.Sprintf("dec_sampler.%d.1", len(m.decSampler))
			m.decSampler = append(m.decSampler, b.wnConv(name, decCh*tm, 2*latent, 1, ad.ConvOpts{}))
		}
	}
	for l := 0; l < cfg.NumGroups(); l++ {
		for n := 0; n < cfg.NumNF; n++ {
			name := fmt.Sprintf("nf_cells.%d", l*cfg.NumNF+n)
			m.nf = append(m.nf, b.flowCell(name+".cell1", latent, false), b.flowCell(name+".cell2", latent, true))
		}
	}

	if cfg.Vanilla() {
		m.stemDec = b.wnConv("stem_decoder", latent, encCh*mult, 1, ad.ConvOpts{})
	} else {
		for t := 0; t < scales; t++ {
			for g := 0; g < m.groups[scales-1-t]; g++ {
				if !(t == 0 && g == 0) {
					for d := 0; d < cfg.NumCellPerCondDec; d++ {
						name := fmt.Sprintf("dec_tower.%d", len(m.dec))
						m.dec = append(m.dec, decEntry{cell: b.cell(name, "normal_dec", decCh*mult, decCh*mult)})
					}
				}
				name := fmt.Sprintf("dec_tower.%d.conv", len(m.dec))
				m.dec = append(m.dec, decEntry{comb: b.wnConv(name, decCh*mult+latent, decCh*mult, 1, ad.ConvOpts{})})
			}
			if t < scales-1 {
				name := fmt.Sprintf("dec_tower.%d", len(m.dec))
				m.dec = append(m.dec, decEntry{cell: b.cell(name, "up_dec", decCh*mult, decCh*mult/2)})
				mult /= 2
			}
		}
	}

	for blk := 0; blk < cfg.NumPostprocBlocks; blk++ {
		for c := 0; c < cfg.NumPostprocCells; c++ {
			name := fmt.Sprintf("post_process.%d", len(m.post))
			if c == 0 {
				m.post = append(m.post, b.cell(name, "up_post", decCh*mult, decCh*mult/2))
				mult /= 2
			} else {
				m.post = append(m.post, b.cell(name, "normal_post", decCh*mult, decCh*mult))
			}
		}
	}
	m.imgCond = b.wnConv("image_conditional.1", decCh*mult, cfg.OutChannels(), 3, ad.ConvOpts{Pad: 1})
	return m, nil
}

// NumParams is the number of trainable scalars.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.V.Value.Len()
	}
	return n
}

// Params returns the parameters with their official names, in official order.
func (m *Model) Params() []NamedParam { return slices.Clone(m.params) }

// ZeroGrad clears every parameter gradient (the parameters split among the workers).
func (m *Model) ZeroGrad() {
	cpu.Parallel(len(m.params), 1, func(lo, hi int) {
		for _, p := range m.params[lo:hi] {
			p.V.ZeroGrad()
		}
	})
}

// SetTrain selects batch statistics with running-statistics updates (true: BN re-adjustment) or
// running statistics (false, the default of a new model) for Sample. Forward takes its mode as an
// argument.
func (m *Model) SetTrain(train bool) { m.train = train }

// SetStatReducer makes the training-mode statistics of every batch norm, and their
// gradient sums, go through r (synchronized batch normalisation across the processes of
// a data-parallel run; see ad.StatReducer), and the statistics of the data-dependent
// initialisation (res_elu convolutions) averaged through it. nil, the default, keeps
// them local. A reducer's failure is reported by the tape's Err.
func (m *Model) SetStatReducer(r ad.StatReducer) {
	for _, b := range m.bns {
		b.Reducer = r
	}
	for _, c := range m.convs {
		if c.DataInit {
			c.Reducer = r
		}
	}
}

// ResetSpectral forgets the spectral regulariser's power-iteration vectors (they are not
// checkpointed: the next Loss draws them again and runs 10× the iterations).
func (m *Model) ResetSpectral() { m.sr = nn.NewSpectralReg() }

// Spectral returns the spectral regulariser's state.
func (m *Model) Spectral() *nn.SpectralReg { return m.sr }

// Output is the result of a forward pass.
type Output struct {
	Logits     *ad.Var   // [B,H,W,Cout]
	LogQ, LogP *ad.Var   // [B]
	KLAll      []*ad.Var // NG × [B], decoder order
	KLDiag     [][]float32
	Decoder    dist.Decoder

	// Per group in decoder order: the posterior (Forward) or prior (Sample, Decode)
	// distribution, the sample before any flow, and the latent the decoder consumed
	// (after the flows; the same as Z without flows).
	Dists []dist.Normal
	Z     []*ad.Var
	ZDec  []*ad.Var
}

func (m *Model) trace(name string, v *ad.Var) {
	if m.Trace != nil {
		m.Trace(name, v)
	}
}

// free hands dead values back on an inference tape (ad.Tape.Free), except when a
// Trace may have kept them.
func (m *Model) free(tp *ad.Tape, vs ...*ad.Var) {
	if m.Trace == nil {
		tp.Free(vs...)
	}
}

func (m *Model) sampler(tp *ad.Tape, c *nn.Conv, name string, x *ad.Var) (mu, ls *ad.Var) {
	p := c.Forward(tp, x)
	m.trace(name, p)
	z := m.Cfg.NumLatentPerGroup
	parts := tp.Split(p, 3, z, z)
	m.free(tp, p)
	return parts[0], parts[1]
}

func (m *Model) decoder(tp *ad.Tape, logits *ad.Var) dist.Decoder {
	switch {
	case m.Cfg.Binary():
		return dist.NewBernoulli(logits)
	case m.Cfg.NumMixtureDec == 1:
		return dist.NewNormalDecoder(tp, logits)
	}
	return dist.NewDiscMixLogistic(tp, logits, m.Cfg.NumMixtureDec, m.Cfg.NumXBits)
}

func (m *Model) flows(tp *ad.Tape, l int, z *ad.Var) *ad.Var {
	F := m.Cfg.NumNF
	for n := 0; n < F; n++ {
		pair := l*F + n
		z = m.nf[2*pair].forward(tp, z)
		z = m.nf[2*pair+1].forward(tp, z)
		m.trace(fmt.Sprintf("nf_cells.%d.out0", pair), z)
	}
	return z
}

// Forward runs the model on x (NHWC in [0,1]) as the official AutoEncoder.forward (docs/model.md#forward-pass).
// train selects batch statistics (and updates the running statistics).
func (m *Model) Forward(tp *ad.Tape, x *tensor.Tensor, train bool, noise Noise) *Output {
	return m.forward(tp, x, 1, train, noise)
}

// ForwardSamples is Forward in eval mode with k posterior samples of every image of x
// (N images): the output's rows are k·N, row j·N + i holding image i under sample j,
// with the noise drawn as by one Forward on x stacked k times. The bottom-up encoder
// does not depend on the samples, so it runs once on the N images and its features
// are shared by the k samples: the values are those of Forward on the stacked images
// (batch normalisation uses the running statistics, so images do not interact), for
// little more than the decoder's cost per sample.
func (m *Model) ForwardSamples(tp *ad.Tape, x *tensor.Tensor, k int, noise Noise) *Output {
	if k < 1 {
		panic(fmt.Sprintf("model.ForwardSamples: %d samples", k))
	}
	return m.forward(tp, x, k, false, noise)
}

// forward is Forward with the decoder path run on reps copies of the encoded batch
// (reps > 1 only in eval mode).
func (m *Model) forward(tp *ad.Tape, x *tensor.Tensor, reps int, train bool, noise Noise) *Output {
	e := m.encode(tp, x, train)
	e.own = true
	return m.posterior(tp, e, reps, train, noise)
}

// Encoded is what the bottom-up encoder computes from a batch of images, the part of
// a forward pass that does not depend on the posterior samples: the features the
// posteriors are built from and the top group's posterior parameters.
type Encoded struct {
	n         int
	combs     []*nn.Conv
	feats     []*ad.Var
	combNames []string
	muq, lsq  *ad.Var // the top group's raw posterior parameters
	// own lets the decoder pass free the values after their last use (when the
	// encoding is decoded once, on the tape it was made on).
	own bool
}

// Images is the number of images encoded.
func (e *Encoded) Images() int { return e.n }

// EncodeForSamples runs the bottom-up encoder on x (NHWC in [0,1]) in eval mode,
// for any number of later ForwardEncoded passes. Its values belong to tp, which must
// outlive those passes; they run on other tapes.
func (m *Model) EncodeForSamples(tp *ad.Tape, x *tensor.Tensor) *Encoded {
	return m.encode(tp, x, false)
}

// ForwardEncoded finishes ForwardSamples(x, k) from x's encoding: the top-down pass
// with k posterior samples of every image, rows j·N + i (image i, sample j).
func (m *Model) ForwardEncoded(tp *ad.Tape, e *Encoded, k int, noise Noise) *Output {
	if k < 1 {
		panic(fmt.Sprintf("model.ForwardEncoded: %d samples", k))
	}
	return m.posterior(tp, e, k, false, noise)
}

// encode is the bottom-up half of forward.
func (m *Model) encode(tp *ad.Tape, x *tensor.Tensor, train bool) *Encoded {
	m.usePrecision(tp)
	in := tensor.Get(x.Shape()...)
	tp.Own(in)
	for i, v := range x.Data() {
		in.Data()[i] = 2*v - 1
	}
	s := m.stem.Forward(tp, ad.Const(in))
	m.trace("stem", s)
	for _, c := range m.pre {
		y := m.cell(tp, c, s, train)
		m.free(tp, s)
		s = y
		m.trace(c.name, s)
	}
	var combs []*nn.Conv
	var feats []*ad.Var
	var combNames []string
	kept := false // s is an encoder feature, kept for the decoder
	for i, e := range m.enc {
		if e.comb != nil {
			combs = append(combs, e.comb)
			feats = append(feats, s)
			combNames = append(combNames, fmt.Sprintf("enc_tower.%d", i))
			kept = true
			continue
		}
		y := m.cell(tp, e.cell, s, train)
		if !kept {
			m.free(tp, s)
		}
		s, kept = y, false
		m.trace(e.cell.name, s)
	}
	slices.Reverse(combs)
	slices.Reverse(feats)
	slices.Reverse(combNames)

	a := tp.ELU(s)
	if !kept {
		m.free(tp, s)
	}
	e0 := m.enc0.Forward(tp, a)
	m.free(tp, a)
	ftr := tp.ELU(e0)
	m.free(tp, e0)
	m.trace("enc0", ftr)
	muq, lsq := m.sampler(tp, m.encSampler[0], "enc_sampler.0", ftr)
	m.free(tp, ftr)
	return &Encoded{n: x.Shape()[0], combs: combs, feats: feats, combNames: combNames, muq: muq, lsq: lsq}
}

// posterior is the top-down half of forward, on reps copies of the encoded batch
// (reps > 1 only in eval mode).
func (m *Model) posterior(tp *ad.Tape, e *Encoded, reps int, train bool, noise Noise) *Output {
	m.usePrecision(tp)
	cfg := m.Cfg
	B := e.n * reps
	combs, feats, combNames := e.combs, e.feats, e.combNames
	// done frees an encoder value after its last use when the pass owns them
	done := func(v *ad.Var) {
		if e.own {
			m.free(tp, v)
		}
	}
	// tile repeats an encoder value for the reps copies (a no-op for one)
	tile := func(v *ad.Var) *ad.Var {
		if reps == 1 {
			return v
		}
		t := nn.Tile(tp, v, reps)
		done(v)
		return t
	}
	out := &Output{}
	var logQs, logPs []*ad.Var
	var qs, ps []dist.Normal

	muq, lsq := tile(e.muq), tile(e.lsq)
	q := dist.NewNormal(tp, muq, lsq, 1)
	zs := muq.Shape()
	z := q.Sample(tp, noise.Normal(zs...))
	out.Dists, out.Z = append(out.Dists, q), append(out.Z, z)
	logQ := q.LogP(tp, z)
	z = m.flows(tp, 0, z)
	out.ZDec = append(out.ZDec, z)
	p := dist.StdNormal(tp, 1, zs...)
	logQs, logPs = append(logQs, logQ), append(logPs, p.LogP(tp, z))
	qs, ps = append(qs, q), append(ps, p)

	// every later group: the prior from the decoder's state, the posterior from the
	// encoder features combined with it
	out.Logits = m.decode(tp, B, z, train, func(idx int, s *ad.Var) *ad.Var {
		a := tp.ELU(s)
		mup, lsp := m.sampler(tp, m.decSampler[idx-1], fmt.Sprintf("dec_sampler.%d", idx-1), a)
		m.free(tp, a)
		c := combs[idx-1].Forward(tp, s)
		feat := feats[idx-1]
		if reps > 1 {
			feat = nn.Tile(tp, feat, reps)
		}
		f := tp.Add(feat, c)
		m.free(tp, c)
		if feat != feats[idx-1] {
			m.free(tp, feat)
		}
		if idx == len(feats) || feats[idx] != feats[idx-1] { // its last reader
			done(feats[idx-1])
		}
		m.trace(combNames[idx-1], f)
		muq, lsq := m.sampler(tp, m.encSampler[idx], fmt.Sprintf("enc_sampler.%d", idx), f)
		m.free(tp, f)
		if cfg.ResDist {
			muq, lsq = tp.Add(mup, muq), tp.Add(lsp, lsq)
		}
		q := dist.NewNormal(tp, muq, lsq, 1)
		z := q.Sample(tp, noise.Normal(muq.Shape()...))
		out.Dists, out.Z = append(out.Dists, q), append(out.Z, z)
		logQ := q.LogP(tp, z)
		z = m.flows(tp, idx, z)
		out.ZDec = append(out.ZDec, z)
		p := dist.NewNormal(tp, mup, lsp, 1)
		logQs, logPs = append(logQs, logQ), append(logPs, p.LogP(tp, z))
		qs, ps = append(qs, q), append(ps, p)
		return z
	})
	out.Decoder = m.decoder(tp, out.Logits)

	for l := range logQs {
		var kl *ad.Var
		if cfg.NumNF > 0 {
			kl = tp.Sub(logQs[l], logPs[l])
		} else {
			kl = qs[l].KL(tp, ps[l])
		}
		out.KLDiag = append(out.KLDiag, klDiag(kl))
		out.KLAll = append(out.KLAll, tp.Sum(kl, false, 1, 2, 3))
		lq, lp := tp.Sum(logQs[l], false, 1, 2, 3), tp.Sum(logPs[l], false, 1, 2, 3)
		if out.LogQ == nil {
			out.LogQ, out.LogP = lq, lp
		} else {
			out.LogQ, out.LogP = tp.Add(out.LogQ, lq), tp.Add(out.LogP, lp)
		}
	}
	return out
}

// ConcurrentInference reports whether passes of m in eval mode on separate inference
// tapes may run at the same time: true unless a pass would change the model (a
// convolution's pending data-dependent initialisation) or call a Trace hook.
func (m *Model) ConcurrentInference() bool {
	if m.Trace != nil {
		return false
	}
	for _, c := range m.convs {
		if c.NeedsDataInit() {
			return false
		}
	}
	return true
}

// PrepareInference computes on tp, once, the values that eval-mode passes on inference
// tapes derive from the parameters and the running statistics: every convolution's
// effective weight and the convolutions with folded batch norms. Passes on tapes
// sharing tp's values (ad.Tape.ShareMemo) then skip that work. The values are a
// snapshot: prepare again after the parameters or statistics change.
func (m *Model) PrepareInference(tp *ad.Tape) {
	for _, c := range m.convs {
		c.EffectiveWeight(tp)
	}
	cells := slices.Concat(m.pre, m.post)
	for _, e := range m.enc {
		if e.cell != nil {
			cells = append(cells, e.cell)
		}
	}
	for _, e := range m.dec {
		if e.cell != nil {
			cells = append(cells, e.cell)
		}
	}
	for _, c := range cells {
		for _, o := range c.ops {
			if ir, ok := o.(*irOp); ok {
				for i := 1; i <= 3; i++ {
					ir.folded(tp, i)
				}
			}
		}
	}
}

// cell runs c on x, as a recomputed segment (ad.Tape.Recompute) when RecomputeCells is set.
func (m *Model) cell(tp *ad.Tape, c *cell, x *ad.Var, train bool) *ad.Var {
	if !m.RecomputeCells || tp.NoGrad() {
		return c.forward(tp, x, train)
	}
	for _, cv := range c.convs() {
		if cv.NeedsDataInit() {
			return c.forward(tp, x, train) // the initialisation changes the weights
		}
	}
	// The effective weights are computed on tp, once: both runs of the cell use them and
	// their gradients arrive before tp's Backward reaches them.
	for _, cv := range c.convs() {
		cv.EffectiveWeight(tp)
	}
	return tp.Recompute(func(tp *ad.Tape, in []*ad.Var) *ad.Var { return c.forward(tp, in[0], train) }, x)
}

// klDiag is the batch mean of the KL summed over H and W, per latent channel.
func klDiag(kl *ad.Var) []float32 {
	s := kl.Shape()
	b, hw, z := s[0], s[1]*s[2], s[3]
	acc := make([]float64, z)
	d := kl.Data()
	for p := 0; p < b*hw; p++ { // element by element, as the flat order
		for j, v := range d[p*z : (p+1)*z] {
			acc[j] += float64(v)
		}
	}
	out := make([]float32, z)
	for j := range out {
		out[j] = float32(acc[j] / float64(b))
	}
	return out
}

// Sample generates n images at temperature t (docs/model.md#sampling-pass): the top latent from N(0, (1.01·t)²),
// the others from the decoder's priors with σ·t. BN uses running statistics unless SetTrain(true)
// (BN re-adjustment, which also updates them). Noise supplies one draw per group.
func (m *Model) Sample(tp *ad.Tape, n int, t float32, noise Noise) *Output {
	return m.generate(tp, n, t, func(_ int, p dist.Normal, shape []int) *ad.Var {
		return p.Sample(tp, noise.Normal(shape...))
	})
}

// LatentShapes returns the shape of every group's latent for n images, in decoder
// order (NHWC).
func (m *Model) LatentShapes(n int) [][]int {
	cfg := m.Cfg
	side := cfg.ImageSize() >> (cfg.NumPreprocessBlocks + cfg.NumLatentScales - 1)
	gs := cfg.GroupsPerScale()
	var out [][]int
	for t := range cfg.NumLatentScales {
		for range gs[cfg.NumLatentScales-1-t] {
			out = append(out, []int{n, side, side, cfg.NumLatentPerGroup})
		}
		side *= 2
	}
	return out
}

// Decode runs the generative path on given latents, one per group in decoder order
// (NHWC, shaped as LatentShapes; e.g. Output.ZDec of Forward), instead of sampling
// them. With the latents of Forward it reproduces that pass's logits (same batch-norm
// mode). Output.Dists holds the priors the latents were decoded under.
func (m *Model) Decode(tp *ad.Tape, zs []*tensor.Tensor) (*Output, error) {
	if len(zs) == 0 {
		return nil, fmt.Errorf("model: Decode needs the latents of %d groups, got none", m.Cfg.NumGroups())
	}
	want := m.LatentShapes(zs[0].Dim(0))
	if len(zs) != len(want) {
		return nil, fmt.Errorf("model: Decode needs the latents of %d groups, got %d", len(want), len(zs))
	}
	for l, z := range zs {
		if !tensor.SameShape(z.Shape(), want[l]) {
			return nil, fmt.Errorf("model: latent %d has shape %v, want %v", l, z.Shape(), want[l])
		}
	}
	return m.generate(tp, want[0][0], 1, func(l int, _ dist.Normal, _ []int) *ad.Var { return ad.Const(zs[l]) }), nil
}

// generate runs the decoder path for n images, taking each group's latent from latent
// (given the group's prior at temperature t and the latent's shape).
func (m *Model) generate(tp *ad.Tape, n int, t float32, latent func(l int, p dist.Normal, shape []int) *ad.Var) *Output {
	m.usePrecision(tp)
	zs := m.LatentShapes(n)[0]
	out := &Output{}
	p := dist.StdNormal(tp, t, zs...)
	z := latent(0, p, zs)
	out.Dists, out.Z, out.ZDec = append(out.Dists, p), append(out.Z, z), append(out.ZDec, z)
	out.Logits = m.decode(tp, n, z, m.train, func(idx int, s *ad.Var) *ad.Var {
		a := tp.ELU(s)
		mu, ls := m.sampler(tp, m.decSampler[idx-1], fmt.Sprintf("dec_sampler.%d", idx-1), a)
		m.free(tp, a)
		p := dist.NewNormal(tp, mu, ls, t)
		z := latent(idx, p, mu.Shape())
		out.Dists, out.Z, out.ZDec = append(out.Dists, p), append(out.Z, z), append(out.ZDec, z)
		return z
	})
	out.Decoder = m.decoder(tp, out.Logits)
	return out
}

// decode runs the generative path from the top group's latent z0 (after its flows) to
// the logits: the decoder tower (or the vanilla stem), the post-processing cells and the
// image conditional. Every later group idx ≥ 1 gets its latent from
// latent(idx, s), given the tower's state s before that group's combiner. Forward,
// Sample and Decode differ only in latent.
func (m *Model) decode(tp *ad.Tape, n int, z0 *ad.Var, train bool, latent func(idx int, s *ad.Var) *ad.Var) *ad.Var {
	m.usePrecision(tp)
	var s *ad.Var
	if m.Cfg.Vanilla() {
		s = m.stemDec.Forward(tp, z0)
	} else {
		s = nn.BroadcastBatch(tp, m.prior, n)
		z, group := z0, 0
		for i, e := range m.dec {
			if e.comb == nil {
				y := m.cell(tp, e.cell, s, train)
				m.free(tp, s)
				s = y
				m.trace(e.cell.name, s)
				continue
			}
			if group > 0 {
				z = latent(group, s)
			}
			cat := tp.Concat(3, s, z)
			m.free(tp, s)
			s = e.comb.Forward(tp, cat)
			m.free(tp, cat)
			m.trace(fmt.Sprintf("dec_tower.%d", i), s)
			group++
		}
	}
	for _, c := range m.post {
		y := m.cell(tp, c, s, train)
		m.free(tp, s)
		s = y
		m.trace(c.name, s)
	}
	a := tp.ELU(s)
	m.free(tp, s)
	logits := m.imgCond.Forward(tp, a)
	m.free(tp, a)
	m.trace("image_conditional", logits)
	return logits
}
