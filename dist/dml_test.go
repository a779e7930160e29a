package dist

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
	"github.com/nvae-go/nvae/tensor"
)

// dmlCase builds NHWC logits [1,H,W,10M] and an 8-bit image x [1,H,W,3] whose
// components exercise every branch: the left tail (value 0), the right tail (254,
// 255), interior bins with a large bin mass, interior bins with cdf_delta ≤ 1e-5
// (small scale, mean far from the pixel) and hard-clamped log-scales (raw −8).
//
// With sharp set, clamped components may also sit inside the pixel's bin, where the
// log-likelihood varies on the scale e^-7 (too sharp for a coarse finite-difference
// step).
func dmlCase(r *rand.Rand, h, w, m, bits int, sharp bool) (logits, x *tensor.Tensor) {
	mv := 1<<bits - 1
	values := []int{0, 1, mv / 4, mv / 2, mv/2 + 1, mv - 2, mv - 1, mv}
	x = tensor.New(1, h, w, 3)
	for i := range x.Data() {
		x.Data()[i] = float32(values[r.IntN(len(values))]) / float32(mv)
	}
	logits = tensor.New(1, h, w, 10*m)
	l := logits.Data()
	for p := 0; p < h*w; p++ {
		row := l[p*10*m : (p+1)*10*m]
		for k := 0; k < m; k++ {
			row[k] = -2 + 4*r.Float32()
		}
		for c := 0; c < 3; c++ {
			y := 2*x.Data()[3*p+c] - 1
			for k := 0; k < m; k++ {
				mean := &row[m+3*m*c+k]
				ls := &row[m+3*m*c+m+k]
				row[m+3*m*c+2*m+k] = -1.5 + 3*r.Float32()
				switch r.IntN(4) {
				case 0: // small scale, mean a few bins away: cdf_delta ≤ 1e-5
					*ls = -5 + 0.5*r.Float32()
					d := 0.2 + 0.1*r.Float32()
					if r.IntN(2) == 0 {
						d = -d
					}
					*mean = y + d
				case 1: // clamped log-scale (raw below −7), mean inside the bin or far from it
					*ls = -8 - r.Float32()
					d := 2/float32(mv) + 0.03 + 0.01*r.Float32()
					if sharp && r.IntN(2) == 0 {
						d = 0.001 * (r.Float32() - 0.5)
					}
					*mean = y + d
				default:
					*ls = -3 + 3.5*r.Float32()
					*mean = -1 + 2*r.Float32()
				}
			}
		}
	}
	return logits, x
}

// refDML is an independent float64 transcription of docs/model.md#logistic-mixture, returning the
// per-pixel log-likelihoods and how often each branch was taken
// (left, right, interior, interior with cdf_delta ≤ 1e-5).
func refDML(logits []float64, x *tensor.Tensor, m int, bits int) ([]float64, [4]int) {
	var branches [4]int
	mv := math.Exp2(float64(bits)) - 1
	P := len(logits) / (10 * m)
	out := make([]float64, P)
	sp := func(v float64) float64 { return math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) }
	sg := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for p := range P {
		row := logits[p*10*m : (p+1)*10*m]
		y := [3]float64{}
		for c := range 3 {
			y[c] = 2*float64(x.Data()[3*p+c]) - 1
		}
		mx := math.Inf(-1)
		for k := range m {
			mx = math.Max(mx, row[k])
		}
		z := 0.0
		for k := range m {
			z += math.Exp(row[k] - mx)
		}
		comps := make([]float64, m)
		for k := range m {
			par := func(c, off int) float64 { return row[m+3*m*c+off*m+k] }
			mu := [3]float64{par(0, 0), par(1, 0), par(2, 0)}
			kc := [3]float64{math.Tanh(par(0, 2)), math.Tanh(par(1, 2)), math.Tanh(par(2, 2))}
			mu[1] += kc[0] * y[0]
			mu[2] += kc[1]*y[0] + kc[2]*y[1]
			tot := row[k] - mx - math.Log(z)
			for c := range 3 {
				ls := math.Max(par(c, 1), -7)
				cen := y[c] - mu[c]
				inv := math.Exp(-ls)
				plus, minus := inv*(cen+1/mv), inv*(cen-1/mv)
				switch {
				case y[c] < -0.999:
					tot += plus - sp(plus)
					branches[0]++
				case y[c] > 0.99:
					tot += -sp(minus)
					branches[1]++
				case sg(plus)-sg(minus) > 1e-5:
					tot += math.Log(sg(plus) - sg(minus))
					branches[2]++
				default:
					mid := inv * cen
					tot += mid - ls - 2*sp(mid) - math.Log(mv/2)
					branches[3]++
				}
			}
			comps[k] = tot
		}
		cm := math.Inf(-1)
		for _, v := range comps {
			cm = math.Max(cm, v)
		}
		acc := 0.0
		for _, v := range comps {
			acc += math.Exp(v - cm)
		}
		out[p] = cm + math.Log(acc)
	}
	return out, branches
}

func TestDMLLogProbReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	logits, x := dmlCase(r, 8, 8, 4, 8, true)
	tp := ad.NewNoGradTape()
	defer tp.Release()
	got := NewDiscMixLogistic(tp, ad.Const(logits), 4, 8).LogProb(tp, x)
	want, br := refDML(f64(logits), x, 4, 8)
	t.Logf("branches left/right/interior/tiny-delta: %v", br)
	for i, b := range br {
		if b == 0 {
			t.Fatalf("branch %d not exercised", i)
		}
	}
	var worst float64
	for i, w := range want {
		worst = max(worst, math.Abs(float64(got.Data()[i])-w)/(1+math.Abs(w)))
	}
	t.Logf("fused float32 vs float64 reference: max rel %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("fused DML differs from the reference by %.3g", worst)
	}
}

// f64 copies a tensor's values to float64.
func f64(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i, v := range t.Data() {
		out[i] = float64(v)
	}
	return out
}

// checkDMLGradient compares the fused op's gradient of Σ w·LogProb with central
// differences of the float64 reference (step 1e-6), so that sharp components
// (scale e^-7) are resolved and float32 rounding does not pollute the differences.
func checkDMLGradient(t *testing.T, name string, logits, x *tensor.Tensor, m, bits int) {
	t.Helper()
	if _, br := refDML(f64(logits), x, m, bits); br[0]*br[1]*br[2]*br[3] == 0 {
		t.Fatalf("%s: a branch is not exercised: %v", name, br)
	}
	p := ad.NewParam(logits)
	tp := ad.NewTape()
	defer tp.Release()
	out := NewDiscMixLogistic(tp, p, m, bits).LogProb(tp, x)
	w := testutil.Uniform(rand.New(rand.NewPCG(5, 5)), -1, 1, out.Shape()...)
	tp.BackwardWith(out, w)
	l := f64(logits)
	f := func() float64 {
		v, _ := refDML(l, x, m, bits)
		s := 0.0
		for i, o := range v {
			s += o * float64(w.Data()[i])
		}
		return s
	}
	const h = 1e-6
	worst := 0.0
	for i := range l {
		orig := l[i]
		l[i] = orig + h
		fp := f()
		l[i] = orig - h
		fm := f()
		l[i] = orig
		num := (fp - fm) / (2 * h)
		ana := float64(p.Grad.Data()[i])
		e := math.Abs(ana-num) / (1e-3 + math.Abs(num))
		worst = max(worst, e)
		if e > 1e-3 || math.IsNaN(ana) {
			t.Errorf("%s: logit %d (channel %d): backward %.7g, finite difference %.7g", name, i, i%(10*m), ana, num)
			return
		}
	}
	t.Logf("%s: max relative gradient error %.3g", name, worst)
}

func TestDMLGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	l8, x8 := dmlCase(r, 4, 4, 3, 8, true)
	checkDMLGradient(t, "DML 8 bits", l8, x8, 3, 8)
	l5, x5 := dmlCase(r, 3, 4, 2, 5, true)
	checkDMLGradient(t, "DML 5 bits", l5, x5, 2, 5)
	// the same op through ordinary finite differences of the float32 forward, on
	// smooth inputs
	l, x := dmlCase(r, 2, 3, 2, 8, false)
	for i := range l.Len() / 20 { // widen every scale: log-scales in [−2, 0]
		for c := range 3 {
			for k := range 2 {
				l.Data()[i*20+2+6*c+2+k] = -2 + 2*r.Float32()
			}
		}
	}
	testutil.CheckGrad(t, testutil.GradCase{Name: "DML float32 differences", Inputs: []*tensor.Tensor{l}, Eps: 1e-2, Tol: 5e-3,
		F: func(tp *ad.Tape, v []*ad.Var) *ad.Var { return NewDiscMixLogistic(tp, v[0], 2, 8).LogProb(tp, x) }})
}

// TestDMLMeanExact checks Mean on a hand-made pixel: weights softmax([0, ln 3]) =
// [¼, ¾], mixture means and coefficients, and the clipped channel recursion.
func TestDMLMeanExact(t *testing.T) {
	const M = 2
	row := make([]float32, 10*M)
	row[0], row[1] = 0, float32(math.Log(3))
	set := func(c, off int, a, b float32) { row[M+3*M*c+off*M], row[M+3*M*c+off*M+1] = a, b }
	atanh := func(v float64) float32 { return float32(math.Atanh(v)) }
	set(0, 0, 0.2, -0.4) // R means → μ̄ = 0.05 − 0.3 = −0.25
	set(1, 0, 0.8, 1.2)  // G means → 1.1
	set(2, 0, -0.6, 0.2) // B means → 0
	set(0, 2, atanh(0.4), atanh(-0.4))
	set(1, 2, atanh(0.8), atanh(0.4))
	set(2, 2, atanh(-0.2), atanh(0.6))
	set(0, 1, 3, 3) // log-scales do not matter for the mean
	set(1, 1, 3, 3)
	set(2, 1, 3, 3)
	// k̄_R = 0.1 − 0.3 = −0.2; k̄_G = 0.2 + 0.3 = 0.5; k̄_B = −0.05 + 0.45 = 0.4
	x0 := -0.25
	x1 := math.Min(1, 1.1+(-0.2)*x0) // 1.15 → clipped to 1
	x2 := 0 + 0.5*x0 + 0.4*x1        // 0.275
	want := []float64{x0/2 + 0.5, x1/2 + 0.5, x2/2 + 0.5}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	got := NewDiscMixLogistic(tp, ad.Const(tensor.FromData(row, 1, 1, 1, 10*M)), M, 8).Mean().Data()
	for c := range 3 {
		if math.Abs(float64(got[c])-want[c]) > 1e-6 {
			t.Errorf("mean colour %d = %.7f, want %.7f", c, got[c], want[c])
		}
	}
}

// sampleStats draws n single-pixel samples and returns their per-channel values.
func sampleStats(d Decoder, rng *rand.Rand, t float32) []float32 { return d.Sample(rng, t).Data() }

// TestDMLSample checks the sampler's properties: outputs in [0,1]; the Gumbel-max
// choice follows softmax(π/t); the logistic scale is divided by t; the G and B
// channels follow the recursion with the sampled earlier channels.
func TestDMLSample(t *testing.T) {
	const M, N = 2, 20000
	rng := rand.New(rand.NewPCG(21, 22))
	tp := ad.NewNoGradTape()
	defer tp.Release()
	// (a) component choice: two well-separated, very narrow components.
	row := make([]float32, 10*M)
	row[0], row[1] = 0, float32(math.Log(3))
	for c := range 3 {
		row[M+3*M*c], row[M+3*M*c+1] = -0.5, 0.5    // means
		row[M+3*M*c+M], row[M+3*M*c+M+1] = -20, -20 // log-scales (clamped to −7)
	}
	lg := tensor.New(N, 1, 1, 10*M)
	for p := range N {
		copy(lg.Data()[p*10*M:], row)
	}
	d := NewDiscMixLogistic(tp, ad.Const(lg), M, 8)
	for _, tc := range []struct {
		t    float32
		want float64
	}{{1, 0.75}, {0.5, 0.9}} {
		s := sampleStats(d, rng, tc.t)
		hi := 0
		for p := range N {
			for c := range 3 {
				if v := s[3*p+c]; v < 0 || v > 1 {
					t.Fatalf("sample %g outside [0,1]", v)
				}
			}
			if s[3*p] > 0.5 {
				hi++
			}
		}
		frac := float64(hi) / N
		if math.Abs(frac-tc.want) > 0.015 {
			t.Errorf("t=%g: component 1 chosen %.3f of the time, want %.2f", tc.t, frac, tc.want)
		}
	}
	// (b) scale divided by t, and the channel recursion.
	row = make([]float32, 10*M)
	row[0], row[1] = 0, -30 // component 0 only
	for c := range 3 {
		row[M+3*M*c+M] = -3 // s = e^-3
	}
	row[M+3*M*1] = 0.1                          // μ_G
	row[M+3*M*0+2*M] = float32(math.Atanh(0.5)) // k_R: G += 0.5·x_R
	for p := range N {
		copy(lg.Data()[p*10*M:], row)
	}
	d = NewDiscMixLogistic(tp, ad.Const(lg), M, 8)
	std := func(v []float64) (mean, sd float64) {
		for _, x := range v {
			mean += x
		}
		mean /= float64(len(v))
		for _, x := range v {
			sd += (x - mean) * (x - mean)
		}
		return mean, math.Sqrt(sd / float64(len(v)))
	}
	logisticSD := math.Exp(-3) * math.Pi / math.Sqrt(3) // in [−1,1] units
	for _, tt := range []float32{1, 0.5} {
		s := sampleStats(d, rng, tt)
		r, resid := make([]float64, N), make([]float64, N)
		for p := range N {
			xr := 2*float64(s[3*p]) - 1
			xg := 2*float64(s[3*p+1]) - 1
			r[p] = xr
			resid[p] = xg - 0.5*xr - 0.1
		}
		mr, sr := std(r)
		mg, sg := std(resid)
		want := logisticSD / float64(tt)
		if math.Abs(sr/want-1) > 0.05 || math.Abs(sg/want-1) > 0.05 || math.Abs(mr) > 0.01 || math.Abs(mg) > 0.01 {
			t.Errorf("t=%g: R mean %.4f sd %.4f, G residual mean %.4f sd %.4f, want sd %.4f", tt, mr, sr, mg, sg, want)
		}
	}
}

// TestBernoulliMeanSample checks Mean = σ(ℓ) and the sampling frequencies.
func TestBernoulliMeanSample(t *testing.T) {
	const N = 20000
	l := tensor.New(N, 1, 1, 1)
	l.Fill(0.8)
	d := NewBernoulli(ad.Const(l))
	want := 1 / (1 + math.Exp(-0.8))
	if m := d.Mean().Data()[0]; math.Abs(float64(m)-want) > 1e-7 {
		t.Errorf("mean %g, want %g", m, want)
	}
	ones := 0
	for _, v := range d.Sample(rand.New(rand.NewPCG(1, 1)), 1).Data() {
		switch v {
		case 1:
			ones++
		case 0:
		default:
			t.Fatalf("sample %g not binary", v)
		}
	}
	if f := float64(ones) / N; math.Abs(f-want) > 0.015 {
		t.Errorf("ones %.3f of the time, want %.3f", f, want)
	}
}

// TestNormalDecoder checks the channel split, LogProb = log N(2x−1) and the
// clipped samples.
func TestNormalDecoder(t *testing.T) {
	tp := ad.NewNoGradTape()
	defer tp.Release()
	// one pixel: μ_raw = (0.5, −0.2, 9), logσ_raw = (−1, 0, 2)
	l := tensor.FromData([]float32{0.5, -0.2, 9, -1, 0, 2}, 1, 1, 1, 6)
	d := NewNormalDecoder(tp, ad.Const(l))
	x := tensor.FromData([]float32{0.7, 0.3, 1}, 1, 1, 1, 3)
	got := d.LogProb(tp, x).Data()
	for c := range 3 {
		mu := 5 * math.Tanh(float64(l.Data()[c])/5)
		sig := math.Exp(5*math.Tanh(float64(l.Data()[3+c])/5)) + 0.01
		y := 2*float64(x.Data()[c]) - 1
		want := -0.5*math.Pow((y-mu)/sig, 2) - 0.5*math.Log(2*math.Pi) - math.Log(sig)
		if math.Abs(float64(got[c])-want) > 1e-5*(1+math.Abs(want)) {
			t.Errorf("channel %d: log p %g, want %g", c, got[c], want)
		}
	}
	m := d.Mean().Data()
	if want := float32(5*math.Tanh(0.1))/2 + 0.5; math.Abs(float64(m[0]-want)) > 1e-6 || m[2] != 1 {
		t.Errorf("mean %v", m)
	}
	s := d.Sample(rand.New(rand.NewPCG(2, 2)), 0.1).Data()
	for _, v := range s {
		if v < 0 || v > 1 {
			t.Errorf("sample %g outside [0,1]", v)
		}
	}
}

// TestDMLNormalised: with 5 bits only the value 31 takes the right tail, so the
// bins tile [−1, 1] and the probabilities of all 32³ colour triples of one pixel sum
// to 1 (the G and B conditionals use the observed earlier channels).
func TestDMLNormalised(t *testing.T) {
	const M, L = 3, 32
	r := rand.New(rand.NewPCG(31, 32))
	row := make([]float32, 10*M)
	for i := range row {
		row[i] = -1 + 2*r.Float32()
	}
	for c := range 3 {
		for k := range M {
			row[M+3*M*c+M+k] = -3 + 1.5*r.Float32() // moderate scales
		}
	}
	n := L * L * L
	logits := tensor.New(1, n, 1, 10*M)
	x := tensor.New(1, n, 1, 3)
	for i := range n {
		copy(logits.Data()[i*10*M:], row)
		x.Data()[3*i] = float32(i/(L*L)) / (L - 1)
		x.Data()[3*i+1] = float32(i/L%L) / (L - 1)
		x.Data()[3*i+2] = float32(i%L) / (L - 1)
	}
	tp := ad.NewNoGradTape()
	defer tp.Release()
	lp := NewDiscMixLogistic(tp, ad.Const(logits), M, 5).LogProb(tp, x)
	s := 0.0
	for _, v := range lp.Data() {
		s += math.Exp(float64(v))
	}
	t.Logf("Σ p over 32³ values: %.7f", s)
	if math.Abs(s-1) > 1e-4 {
		t.Errorf("5-bit probabilities sum to %.7f, want 1", s)
	}
}
