// Package parity replays a fixture directory recorded from the official NVAE code (laid out as
// the F1/F2 fixtures: params_init, input, train_forward, train_grads, …) through the Go model
// and reports, per quantity, the maximum absolute and relative error against a tolerance.
package parity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
	"github.com/nvae-go/nvae/tensor"
	"github.com/nvae-go/nvae/tensorfile"
)

// Check is one compared quantity.
type Check struct {
	Name   string
	MaxAbs float64 // max |got − want| (for aggregates: of the worst tensor)
	MaxRel float64 // MaxAbs / max|want|
	Tol    float64 // allowed MaxAbs
	Pass   bool
	Note   string // e.g. the worst tensor of an aggregate
}

// Report is the outcome of Run.
type Report struct {
	Dir    string
	Checks []Check
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return len(r.Checks) > 0
}

// Failed lists the failing checks.
func (r *Report) Failed() []Check {
	var f []Check
	for _, c := range r.Checks {
		if !c.Pass {
			f = append(f, c)
		}
	}
	return f
}

// Print writes one line per check.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "parity %s\n", r.Dir)
	fmt.Fprintf(w, "%-34s %12s %12s %12s  %s\n", "quantity", "max abs", "max rel", "tol (abs)", "")
	for _, c := range r.Checks {
		st := "ok"
		if !c.Pass {
			st = "FAIL"
		}
		fmt.Fprintf(w, "%-34s %12.3e %12.3e %12.3e  %s %s\n", c.Name, c.MaxAbs, c.MaxRel, c.Tol, st, c.Note)
	}
}

// Tolerances (docs/numerics.md#parity-tolerances).
const (
	ForwardRel = 1e-5 // forward values, relative to max|ref|
	LossAbs    = 1e-3 // absolute cap for loss-type sums, widened to LossULP float32 steps (LossTol)
	LossULP    = 4    // float32 steps (ulp at the value's magnitude) a loss-type sum may differ by
	GradRel    = 1e-3 // gradients: |Δ| ≤ GradRel·max|g_tensor| + GradAbs
	GradAbs    = 1e-5
)

type fileT = map[string]tensorfile.Named

func load(dir, name string) (*tensorfile.File, fileT, error) {
	f, err := tensorfile.ReadSafetensors(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, err
	}
	m := make(fileT, len(f.Tensors))
	for _, t := range f.Tensors {
		m[t.Name] = t
	}
	return f, m, nil
}

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// diff returns max|a−b| and max|b|.
func diff(a, b []float32) (float64, float64) {
	var d, s float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d, s
}

type runner struct {
	rep *Report
}

func (r *runner) add(c Check) { r.rep.Checks = append(r.rep.Checks, c) }

func (r *runner) fail(name, note string) {
	r.add(Check{Name: name, MaxAbs: math.Inf(1), MaxRel: math.Inf(1), Note: note})
}

// forward compares got with want under the forward tolerance; loss uses LossTol.
func (r *runner) forward(name string, got []float32, want tensorfile.Named, loss bool) {
	if len(got) != len(want.Data) {
		r.fail(name, fmt.Sprintf("length %d, want %d", len(got), len(want.Data)))
		return
	}
	d, s := diff(got, want.Data)
	tol := math.Max(ForwardRel*s, 1e-7)
	if loss {
		tol = LossTol(s)
	}
	r.add(Check{Name: name, MaxAbs: d, MaxRel: d / math.Max(s, 1e-30), Tol: tol, Pass: d <= tol})
}

// LossTol is the tolerance of a loss-type sum whose reference has magnitude s = max|ref|:
// the forward tolerance max(ForwardRel·s, 1e-7), capped at max(LossAbs, LossULP ulp of s),
// where ulp is the float32 spacing at s. A fixed cap of 1e-3 alone would be below one float32
// step for sums above 2^13 = 8192 (a loss of 2e4 has ulp 2e-3), demanding more than float32
// can hold (docs/numerics.md#parity-tolerances).
func LossTol(s float64) float64 {
	s = math.Abs(s)
	return math.Min(math.Max(ForwardRel*s, 1e-7), math.Max(LossAbs, LossULP*ulp32(s)))
}

// ulp32 returns the spacing of float32 values at magnitude s: the distance from s (rounded
// to float32) to the next float32 away from zero. It is +Inf for values beyond float32's range.
func ulp32(s float64) float64 {
	f := float32(math.Abs(s))
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return math.Inf(1)
	}
	return float64(math.Nextafter32(f, float32(math.Inf(1)))) - float64(f)
}

// grads compares a whole gradient (or buffer) file tensor by tensor; the check reports the
// tensor closest to (or furthest past) its tolerance.
func (r *runner) tensors(name string, got []model.NamedTensor, want fileT, tolFn func(scale float64) float64) {
	worst := Check{Name: name, Pass: true}
	ratio := -1.0
	seen := 0
	for _, g := range got {
		w, ok := want[g.Name]
		if !ok {
			continue
		}
		seen++
		if len(w.Data) != len(g.Data) {
			r.fail(name, g.Name+": size mismatch")
			return
		}
		d, s := diff(g.Data, w.Data)
		tol := tolFn(s)
		if q := d / tol; q > ratio {
			ratio = q
			worst = Check{Name: name, MaxAbs: d, MaxRel: d / math.Max(s, 1e-30), Tol: tol, Pass: d <= tol, Note: "worst: " + g.Name}
		}
	}
	if seen != len(want) {
		worst.Pass = false
		worst.Note += fmt.Sprintf(" (compared %d of %d tensors)", seen, len(want))
	}
	r.add(worst)
}

// nchw converts a fixture NCHW tensor to NHWC.
func nchw(t tensorfile.Named) *tensor.Tensor {
	x := tensor.FromData(t.Data, t.Shape...)
	if len(t.Shape) == 4 {
		return tensor.NCHWToNHWC(x)
	}
	return x
}

// toNCHW converts an engine NHWC value to the fixture's NCHW order.
func toNCHW(v *ad.Var) []float32 {
	if len(v.Shape()) == 4 {
		return tensor.NHWCToNCHW(v.Value).Data()
	}
	return v.Data()
}

// replay is Noise that returns recorded tensors in order, checking shapes.
type replay struct {
	list []*tensor.Tensor
	name []string
	i    int
	err  error
}

func (n *replay) Normal(shape ...int) *tensor.Tensor {
	if n.i >= len(n.list) {
		if n.err == nil {
			n.err = fmt.Errorf("noise: draw %d %v beyond the %d recorded", n.i, shape, len(n.list))
		}
		n.i++
		return tensor.New(shape...)
	}
	t := n.list[n.i]
	if !tensor.SameShape(t.Shape(), shape) && n.err == nil {
		n.err = fmt.Errorf("noise: draw %d (%s) has shape %v, model asked for %v", n.i, n.name[n.i], t.Shape(), shape)
	}
	n.i++
	if t.Len() != tensor.Numel(shape) {
		return tensor.New(shape...)
	}
	return t.Reshape(shape...)
}

func epsNoise(f fileT) *replay {
	n := &replay{}
	for k := 0; ; k++ {
		t, ok := f[fmt.Sprintf("eps.%03d", k)]
		if !ok {
			break
		}
		n.list = append(n.list, nchw(t))
		n.name = append(n.name, t.Name)
	}
	return n
}

func snNoise(f fileT) *replay {
	n := &replay{}
	for k := 0; ; k++ {
		u, ok := f[fmt.Sprintf("sn.u0.%02d", k)]
		if !ok {
			break
		}
		v := f[fmt.Sprintf("sn.v0.%02d", k)]
		n.list = append(n.list, tensor.FromData(u.Data, u.Shape...), tensor.FromData(v.Data, v.Shape...))
		n.name = append(n.name, u.Name, v.Name)
	}
	return n
}

// chain draws from a then b.
type chain struct{ a, b *replay }

func (c chain) Normal(shape ...int) *tensor.Tensor {
	if c.a.i < len(c.a.list) {
		return c.a.Normal(shape...)
	}
	return c.b.Normal(shape...)
}

// Config reads the model configuration of a fixture directory from params_init's metadata
// (`args` plus `input_size`).
func Config(dir string) (model.Config, error) {
	f, err := tensorfile.ReadSafetensors(filepath.Join(dir, "params_init.safetensors"))
	if err != nil {
		return model.Config{}, fmt.Errorf("parity: %w", err)
	}
	return configFrom(f)
}

func configFrom(f *tensorfile.File) (model.Config, error) {
	var args map[string]any
	if err := json.Unmarshal([]byte(f.Metadata["args"]), &args); err != nil {
		return model.Config{}, fmt.Errorf("parity: params_init metadata args: %w", err)
	}
	if s, ok := f.Metadata["input_size"]; ok {
		var n float64
		if err := json.Unmarshal([]byte(s), &n); err != nil {
			return model.Config{}, fmt.Errorf("parity: input_size %q: %w", s, err)
		}
		args["input_size"] = n
	}
	return model.ConfigFromArgs(args)
}

// Run replays dir and compares every recorded quantity it finds.
func Run(dir string) (*Report, error) {
	r := &runner{rep: &Report{Dir: dir}}
	pf, _, err := load(dir, "params_init.safetensors")
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	cfg, err := configFrom(pf)
	if err != nil {
		return nil, err
	}
	newModel := func(bufs fileT) (*model.Model, error) {
		m, err := model.New(cfg, 0)
		if err != nil {
			return nil, fmt.Errorf("parity: %w", err)
		}
		ts := pf.Tensors
		if bufs != nil {
			ts = make([]tensorfile.Named, len(pf.Tensors))
			for i, t := range pf.Tensors {
				if b, ok := bufs[t.Name]; ok {
					t = b
				}
				ts[i] = t
			}
		}
		if err := m.LoadStateDict(modelfile.ModelTensors(ts)); err != nil {
			return nil, fmt.Errorf("parity: %w", err)
		}
		return m, nil
	}
	m, err := newModel(nil)
	if err != nil {
		return nil, err
	}
	// state dict names and order
	keys := m.StateKeys()
	var want []string
	_ = json.Unmarshal([]byte(pf.Metadata["keys_in_order"]), &want)
	same := len(keys) == len(want)
	for i := 0; same && i < len(keys); i++ {
		same = keys[i] == want[i]
	}
	c := Check{Name: "state_dict keys/order", Pass: same}
	if !same {
		c.Note = fmt.Sprintf("%d keys, want %d", len(keys), len(want))
	}
	r.add(c)

	_, in, err := load(dir, "input.safetensors")
	if err != nil {
		return nil, fmt.Errorf("parity: %w", err)
	}
	x := nchw(in["x"])

	if exists(dir, "aux.safetensors") {
		_, aux, err := load(dir, "aux.safetensors")
		if err != nil {
			return nil, fmt.Errorf("parity: %w", err)
		}
		if a, ok := aux["alpha_i"]; ok {
			r.forward("alpha_i", m.Alpha(), a, false)
		}
		r.masks(m, aux)
	}
	if err := r.train(dir, m, newModel, x); err != nil {
		return nil, err
	}
	if exists(dir, "eval_forward.safetensors") {
		if err := r.eval(dir, newModel, x); err != nil {
			return nil, err
		}
	}
	if exists(dir, "sample_t0.7.safetensors") {
		if err := r.sample(dir, newModel); err != nil {
			return nil, err
		}
	}
	return r.rep, nil
}

func (r *runner) masks(m *model.Model, aux fileT) {
	got := map[string][]float32{}
	for _, mk := range m.Masks() {
		got[mk.Name] = mk.Data
	}
	var names []string
	for k := range aux {
		if strings.HasPrefix(k, "mask/") {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	bad := 0
	note := ""
	for _, k := range names {
		g, ok := got[strings.TrimPrefix(k, "mask/")]
		if !ok || len(g) != len(aux[k].Data) {
			bad++
			note = "missing " + k
			continue
		}
		if d, _ := diff(g, aux[k].Data); d != 0 {
			bad++
			note = "differs: " + k
		}
	}
	c := Check{Name: fmt.Sprintf("flow masks (%d)", len(names)), Pass: bad == 0, Note: note}
	if bad > 0 {
		c.MaxAbs = 1
	}
	r.add(c)
}

// prefixed selects the tensors whose names start with p.
func prefixed(f fileT, p string) fileT {
	out := fileT{}
	for k, v := range f {
		if strings.HasPrefix(k, p) {
			out[k] = v
		}
	}
	return out
}

func gradTol(s float64) float64 { return GradRel*s + GradAbs }
func bufTol(s float64) float64  { return math.Max(ForwardRel*s, 1e-7) }

func (r *runner) train(dir string, m *model.Model, newModel func(fileT) (*model.Model, error), x *tensor.Tensor) error {
	tf, f, err := load(dir, "train_forward.safetensors")
	if err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	_ = tf
	var acts fileT
	if exists(dir, "train_activations.safetensors") {
		if _, acts, err = load(dir, "train_activations.safetensors"); err != nil {
			return fmt.Errorf("parity: %w", err)
		}
		m.Trace = func(name string, v *ad.Var) {
			w, ok := acts[name]
			if !ok {
				return
			}
			r.forward("act "+name, toNCHW(v), w, false)
		}
	}
	eps := epsNoise(f)
	tp := ad.NewTape()
	defer tp.Release()
	out := m.Forward(tp, x, true, eps)
	m.Trace = nil
	if eps.err != nil {
		return fmt.Errorf("parity: %w", eps.err)
	}
	r.groupDbg("train", out, f)
	r.forward("logits", toNCHW(out.Logits), f["logits"], false)
	lp := out.Decoder.LogProb(tp, x)
	r.forward("log_px", toNCHW(lp), f["log_px"], false)
	r.forward("log_q", out.LogQ.Data(), f["log_q"], true)
	r.forward("log_p", out.LogP.Data(), f["log_p"], true)
	for l := range out.KLAll {
		r.forward(fmt.Sprintf("kl_all.%03d", l), out.KLAll[l].Data(), f[fmt.Sprintf("kl_all.%03d", l)], true)
		r.forward(fmt.Sprintf("kl_diag.%03d", l), out.KLDiag[l], f[fmt.Sprintf("kl_diag.%03d", l)], true)
	}
	if _, buf, err := load(dir, "buffers_after_train_forward.safetensors"); err == nil {
		r.tensors("buffers after train forward", m.Buffers(), buf, bufTol)
	}

	wdn := f["wdn_coeff"].Data[0]
	type variant struct {
		suffix string
		coeff  float32
		grads  string
	}
	vars := []variant{{"", f["kl_coeff"].Data[0], "train_grads.safetensors"},
		{"_klc1", f["kl_coeff_klc1"].Data[0], "train_grads_klc1.safetensors"},
		{"_step0", f["kl_coeff_step0"].Data[0], ""}}
	losses := make([]*model.Loss, len(vars))
	for i, v := range vars {
		m.ResetSpectral()
		sn := snNoise(f)
		l := m.Loss(tp, out, x, v.coeff, wdn, sn)
		if sn.err != nil {
			return fmt.Errorf("parity: %w", sn.err)
		}
		if sn.i != len(sn.list) {
			return fmt.Errorf("parity: spectral regularisation drew %d of the %d recorded vectors", sn.i, len(sn.list))
		}
		losses[i] = l
		if i == 0 {
			r.forward("recon_loss", l.Recon, f["recon_loss"], true)
			r.forward("kl_vals", l.KLVals, f["kl_vals"], true)
			r.forward("norm_loss", []float32{l.NormLoss}, f["norm_loss"], true)
			r.forward("bn_loss", []float32{l.BNLoss}, f["bn_loss"], true)
			var us, vs []model.NamedTensor
			for gi, g := range m.Spectral().Groups() {
				us = append(us, model.NamedTensor{Name: fmt.Sprintf("sn.u.%02d", gi), Data: g.U.Data()})
				vs = append(vs, model.NamedTensor{Name: fmt.Sprintf("sn.v.%02d", gi), Data: g.V.Data()})
			}
			r.tensors("spectral u (per group)", us, prefixed(f, "sn.u."), bufTol)
			r.tensors("spectral v (per group)", vs, prefixed(f, "sn.v."), bufTol)
		}
		r.forward("balanced_kl"+v.suffix, l.BalancedKL, f["balanced_kl"+v.suffix], true)
		r.forward("kl_coeffs"+v.suffix, l.KLCoeffs, f["kl_coeffs"+v.suffix], false)
		r.forward("nelbo_batch"+v.suffix, l.NELBO, f["nelbo_batch"+v.suffix], true)
		r.forward("loss"+v.suffix, []float32{l.Total.Value.Item()}, f["loss"+v.suffix], true)
	}
	for i, v := range vars {
		if v.grads == "" || !exists(dir, v.grads) {
			continue
		}
		_, g, err := load(dir, v.grads)
		if err != nil {
			return fmt.Errorf("parity: %w", err)
		}
		m.ZeroGrad()
		tp.Backward(losses[i].Total)
		r.tensors("grads kl_coeff="+fmt.Sprint(v.coeff), m.GradDict(), g, gradTol)
	}
	if exists(dir, "train_grads_components.safetensors") {
		// debugging aid: gradients of the separate loss terms
		_, g, err := load(dir, "train_grads_components.safetensors")
		if err != nil {
			return fmt.Errorf("parity: %w", err)
		}
		kl := out.KLAll[0]
		for _, k := range out.KLAll[1:] {
			kl = tp.Add(kl, k)
		}
		terms := map[string]*ad.Var{
			"recon": tp.Mean(losses[0].ReconVar, false),
			"kl":    tp.Mean(kl, false),
			"norm":  losses[0].NormVar,
			"bn":    losses[0].BNVar,
		}
		for _, name := range []string{"recon", "kl", "norm", "bn"} {
			m.ZeroGrad()
			tp.Backward(terms[name])
			got := m.GradDict()
			for i := range got {
				got[i].Name = name + "/" + got[i].Name
			}
			r.tensors("grads of "+name, got, prefixed(g, name+"/"), gradTol)
		}
	}
	return nil
}

func (r *runner) groupDbg(prefix string, out *model.Output, f fileT) {
	for l := range out.Dists {
		k := fmt.Sprintf("%03d", l)
		if w, ok := f["dbg.mu."+k]; ok {
			r.forward(prefix+" mu."+k, toNCHW(out.Dists[l].Mu), w, false)
		}
		if w, ok := f["dbg.sigma."+k]; ok {
			r.forward(prefix+" sigma."+k, toNCHW(out.Dists[l].Sigma), w, false)
		}
		if w, ok := f["dbg.z."+k]; ok {
			r.forward(prefix+" z."+k, toNCHW(out.Z[l]), w, false)
		}
	}
}

func (r *runner) eval(dir string, newModel func(fileT) (*model.Model, error), x *tensor.Tensor) error {
	_, buf, err := load(dir, "buffers_after_train_forward.safetensors")
	if err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	m, err := newModel(buf)
	if err != nil {
		return err
	}
	_, f, err := load(dir, "eval_forward.safetensors")
	if err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	eps := epsNoise(f)
	tp := ad.NewInferenceTape() // the evaluation path: folded batch norms, values freed early
	defer tp.Release()
	out := m.Forward(tp, x, false, eps)
	if eps.err != nil {
		return fmt.Errorf("parity: eval: %w", eps.err)
	}
	r.groupDbg("eval", out, f)
	r.forward("eval logits", toNCHW(out.Logits), f["logits"], false)
	recon := m.ReconLoss(tp, out, x).Data()
	r.forward("eval recon_loss", recon, f["recon_loss"], true)
	r.forward("eval log_q", out.LogQ.Data(), f["log_q"], true)
	r.forward("eval log_p", out.LogP.Data(), f["log_p"], true)
	B := len(recon)
	nelbo := make([]float32, B)
	iw := make([]float32, B)
	copy(nelbo, recon)
	for l := range out.KLAll {
		r.forward(fmt.Sprintf("eval kl_all.%03d", l), out.KLAll[l].Data(), f[fmt.Sprintf("kl_all.%03d", l)], true)
		r.forward(fmt.Sprintf("eval kl_diag.%03d", l), out.KLDiag[l], f[fmt.Sprintf("kl_diag.%03d", l)], true)
		for b := range nelbo {
			nelbo[b] += out.KLAll[l].Data()[b]
		}
	}
	for b := range iw {
		iw[b] = -recon[b] - out.LogQ.Data()[b] + out.LogP.Data()[b]
	}
	r.forward("eval nelbo_batch", nelbo, f["nelbo_batch"], true)
	r.forward("eval log_iw", iw, f["log_iw"], true)
	return nil
}

func (r *runner) sample(dir string, newModel func(fileT) (*model.Model, error)) error {
	_, buf, err := load(dir, "buffers_after_train_forward.safetensors")
	if err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	m, err := newModel(buf)
	if err != nil {
		return err
	}
	_, f, err := load(dir, "sample_t0.7.safetensors")
	if err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	eps := epsNoise(f)
	n := f["eps.000"].Shape[0]
	m.SetTrain(false)
	tp := ad.NewInferenceTape()
	defer tp.Release()
	out := m.Sample(tp, n, 0.7, eps)
	if eps.err != nil {
		return fmt.Errorf("parity: sample: %w", eps.err)
	}
	r.groupDbg("sample", out, f)
	r.forward("sample logits", toNCHW(out.Logits), f["logits"], false)
	if w, ok := f["dml.mean_image"]; ok {
		mean := out.Decoder.Mean()
		r.forward("sample mean_image", tensor.NHWCToNCHW(mean).Data(), w, false)
	}
	return nil
}
