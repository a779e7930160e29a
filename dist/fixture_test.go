package dist

import (
	"fmt"
	"math"
	"testing"

	"github.com/nvae-go/nvae/ad"
	"github.com/nvae-go/nvae/internal/testutil"
)

// The testdata files hold tensors copied byte for byte from the official parity
// fixtures (F1: Bernoulli/MNIST-like, F2: logistic mixture/CIFAR-like); see
// testdata/extract.py. Fixture tensors are NCHW and are converted to NHWC here.

// TestBernoulliF1 checks the Bernoulli log-likelihood and the cropped
// reconstruction loss against F1.
func TestBernoulliF1(t *testing.T) {
	f := testutil.Load(t, "testdata/f1.safetensors")
	tp := ad.NewNoGradTape()
	defer tp.Release()
	logits := ad.Const(f.NHWC(t, "logits"))
	x := f.NHWC(t, "x")
	lp := NewBernoulli(logits).LogProb(tp, x)
	want := f.NHWC(t, "log_px")
	abs, rel := testutil.MaxErr(lp.Data(), want.Data(), 1e-6)
	t.Logf("F1 log_px: max abs %.3g, max rel %.3g", abs, rel)
	if rel > 1e-5 {
		t.Errorf("F1 log_px: max rel error %.3g > 1e-5", rel)
	}
	// reconstruction: −Σ over the central 28×28 crop
	s := lp.Shape()
	recon := make([]float32, s[0])
	for b := range s[0] {
		acc := 0.0
		for h := 2; h < 30; h++ {
			for w := 2; w < 30; w++ {
				acc += float64(lp.Data()[(b*s[1]+h)*s[2]+w])
			}
		}
		recon[b] = float32(-acc)
	}
	abs, rel = testutil.MaxErr(recon, f.Get(t, "recon_loss").Data(), 0)
	t.Logf("F1 recon_loss: max abs %.3g, max rel %.3g", abs, rel)
	if rel > 1e-5 {
		t.Errorf("F1 recon_loss: max rel error %.3g", rel)
	}
}

// TestDMLF2 checks the mixture log-likelihood and the reconstruction loss against F2.
func TestDMLF2(t *testing.T) {
	f := testutil.Load(t, "testdata/f2.safetensors")
	tp := ad.NewNoGradTape()
	defer tp.Release()
	logits := ad.Const(f.NHWC(t, "logits"))
	x := f.NHWC(t, "x")
	lp := NewDiscMixLogistic(tp, logits, 3, 8).LogProb(tp, x)
	want := f.Get(t, "log_px")
	abs, rel := testutil.MaxErr(lp.Data(), want.Data(), 1e-3)
	t.Logf("F2 log_px: max abs %.3g, max rel %.3g", abs, rel)
	if rel > 1e-5 {
		t.Errorf("F2 log_px: max rel error %.3g > 1e-5", rel)
	}
	s := lp.Shape()
	recon := make([]float32, s[0])
	n := s[1] * s[2]
	for b := range s[0] {
		acc := 0.0
		for _, v := range lp.Data()[b*n : (b+1)*n] {
			acc += float64(v)
		}
		recon[b] = float32(-acc)
	}
	abs, _ = testutil.MaxErr(recon, f.Get(t, "recon_loss").Data(), 0)
	t.Logf("F2 recon_loss: max abs %.3g (values ≈ %.0f)", abs, recon[0])
	if abs > 1e-3 {
		t.Errorf("F2 recon_loss: max abs error %.3g > 1e-3", abs)
	}
}

// TestDMLDecodeF2 checks the parameter layout (mixture logits, means, clamped
// log-scales, tanh coefficients) and the mean image against F2's sample fixture,
// whose dml.* tensors are [B,3(colour),M,H,W] and [B,M,H,W].
func TestDMLDecodeF2(t *testing.T) {
	f := testutil.Load(t, "testdata/f2.safetensors")
	tp := ad.NewNoGradTape()
	defer tp.Release()
	logits := ad.Const(f.NHWC(t, "sample.logits"))
	d := NewDiscMixLogistic(tp, logits, 3, 8).(*discMixLogistic)
	B, H, W, M := d.b, d.h, d.w, d.m
	pi := f.Get(t, "sample.dml.logit_probs").Data()
	means := f.Get(t, "sample.dml.means").Data()
	scales := f.Get(t, "sample.dml.log_scales").Data()
	coeffs := f.Get(t, "sample.dml.coeffs").Data()
	var errPi, errMean, errScale, errCoef float64
	clamped := 0
	for b := range B {
		for h := range H {
			for w := range W {
				p := (b*H+h)*W + w
				row := logits.Data()[p*10*M : (p+1)*10*M]
				for m := range M {
					errPi = max(errPi, math.Abs(float64(row[m]-pi[((b*M+m)*H+h)*W+w])))
					for c := range 3 {
						i := (((b*3+c)*M+m)*H+h)*W + w
						mean, ls, k := d.params(row, c, m)
						errMean = max(errMean, math.Abs(float64(mean-means[i])))
						errScale = max(errScale, math.Abs(float64(ls-scales[i])))
						errCoef = max(errCoef, math.Abs(float64(k-coeffs[i])))
						if scales[i] == -7 {
							clamped++
						}
					}
				}
			}
		}
	}
	t.Logf("F2 dml decode: max abs π %.3g, means %.3g, log_scales %.3g (%d clamped), coeffs %.3g",
		errPi, errMean, errScale, clamped, errCoef)
	if errPi != 0 || errMean != 0 || errScale != 0 || errCoef > 1e-6 {
		t.Errorf("dml decode differs: π %.3g means %.3g log_scales %.3g coeffs %.3g", errPi, errMean, errScale, errCoef)
	}
	mean := d.Mean()
	abs, _ := testutil.MaxErr(mean.Data(), f.NHWC(t, "sample.dml.mean_image").Data(), 0)
	t.Logf("F2 dml mean image: max abs %.3g", abs)
	if abs > 1e-6 {
		t.Errorf("F2 mean image: max abs error %.3g", abs)
	}
}

// chunk splits a raw sampler output [B,h,w,2C] into its mean and log-σ halves.
func chunk(tp *ad.Tape, v *ad.Var) (mu, ls *ad.Var) {
	c := v.Shape()[3]
	return tp.Slice(v, 3, 0, c/2), tp.Slice(v, 3, c/2, c)
}

// posteriors rebuilds the posterior and prior of every latent group from the raw
// sampler outputs: group 0 has the encoder sampler's parameters and the StdNormal
// prior; group k ≥ 1 (res_dist) has q = Normal(prior_raw + enc_raw) and
// p = Normal(prior_raw) with the prior from dec_sampler.(k−1).
func posteriors(t *testing.T, tp *ad.Tape, f *testutil.Fixture, groups int) (qs, ps []Normal) {
	for k := range groups {
		enc := ad.Const(f.NHWC(t, fmt.Sprintf("enc_sampler.%d", k)))
		mq, lq := chunk(tp, enc)
		if k == 0 {
			qs = append(qs, NewNormal(tp, mq, lq, 1))
			ps = append(ps, StdNormal(tp, 1, mq.Shape()...))
			continue
		}
		dec := ad.Const(f.NHWC(t, fmt.Sprintf("dec_sampler.%d", k-1)))
		mp, lpr := chunk(tp, dec)
		qs = append(qs, NewNormal(tp, tp.Add(mp, mq), tp.Add(lpr, lq), 1))
		ps = append(ps, NewNormal(tp, mp, lpr, 1))
	}
	return qs, ps
}

// sumPerSample sums a [B,...] value over everything but the batch.
func sumPerSample(v *ad.Var) []float64 {
	b := v.Shape()[0]
	n := v.Value.Len() / b
	out := make([]float64, b)
	for i := range b {
		for _, x := range v.Data()[i*n : (i+1)*n] {
			out[i] += float64(x)
		}
	}
	return out
}

// TestNormalF1 checks NewNormal (incl. the residual posterior), Sample, KL, LogP and
// the summed log q / log p against F1, which has no flows.
func TestNormalF1(t *testing.T) { testNormalFixture(t, "testdata/f1.safetensors", 3, true) }

// TestNormalF2 checks NewNormal and Sample against F2 (its KL goes through flows
// and is not a closed-form KL).
func TestNormalF2(t *testing.T) { testNormalFixture(t, "testdata/f2.safetensors", 2, false) }

func testNormalFixture(t *testing.T, path string, groups int, noFlows bool) {
	f := testutil.Load(t, path)
	tp := ad.NewNoGradTape()
	defer tp.Release()
	qs, ps := posteriors(t, tp, f, groups)
	logQ := make([]float64, 4)
	logP := make([]float64, 4)
	for k := range groups {
		key := func(s string) string { return fmt.Sprintf("%s.%03d", s, k) }
		q := qs[k]
		mu, sig := f.NHWC(t, key("dbg.mu")), f.NHWC(t, key("dbg.sigma"))
		amu, _ := testutil.MaxErr(q.Mu.Data(), mu.Data(), 0)
		_, rsig := testutil.MaxErr(q.Sigma.Data(), sig.Data(), 0)
		z := q.Sample(tp, f.NHWC(t, key("eps")))
		az, _ := testutil.MaxErr(z.Data(), f.NHWC(t, key("dbg.z")).Data(), 0)
		t.Logf("group %d: mu max abs %.3g, sigma max rel %.3g, z max abs %.3g", k, amu, rsig, az)
		if amu > 1e-5 || rsig > 1e-5 || az > 1e-5 {
			t.Errorf("group %d: mu %.3g sigma %.3g z %.3g", k, amu, rsig, az)
		}
		if !noFlows {
			continue
		}
		kl := sumPerSample(q.KL(tp, ps[k]))
		want := f.Get(t, key("kl_all")).Data()
		var akl float64
		for b := range kl {
			akl = max(akl, math.Abs(kl[b]-float64(want[b])))
		}
		t.Logf("group %d: kl_all max abs %.3g (values ≈ %.1f)", k, akl, want[0])
		if akl > 1e-3 {
			t.Errorf("group %d: kl_all max abs error %.3g", k, akl)
		}
		lq := sumPerSample(q.LogP(tp, z))
		lp := sumPerSample(ps[k].LogP(tp, z))
		for b := range lq {
			logQ[b] += lq[b]
			logP[b] += lp[b]
		}
	}
	if !noFlows {
		return
	}
	for _, c := range []struct {
		name string
		got  []float64
	}{{"log_q", logQ}, {"log_p", logP}} {
		want := f.Get(t, c.name).Data()
		var e float64
		for b := range want {
			e = max(e, math.Abs(c.got[b]-float64(want[b])))
		}
		t.Logf("%s: max abs %.3g (values ≈ %.1f)", c.name, e, want[0])
		if e > 2e-3 {
			t.Errorf("%s: max abs error %.3g", c.name, e)
		}
	}
}

// TestSampleTemperatureF2 checks the top prior at t = 0.7 (σ = 1.01·0.7) and its
// sample against F2's sampling fixture.
func TestSampleTemperatureF2(t *testing.T) {
	f := testutil.Load(t, "testdata/f2.safetensors")
	tp := ad.NewNoGradTape()
	defer tp.Release()
	eps := f.NHWC(t, "sample.eps.000")
	p := StdNormal(tp, 0.7, eps.Shape()...)
	am, _ := testutil.MaxErr(p.Mu.Data(), f.NHWC(t, "sample.dbg.mu.000").Data(), 0)
	as, _ := testutil.MaxErr(p.Sigma.Data(), f.NHWC(t, "sample.dbg.sigma.000").Data(), 0)
	az, _ := testutil.MaxErr(p.Sample(tp, eps).Data(), f.NHWC(t, "sample.dbg.z.000").Data(), 0)
	t.Logf("t=0.7 top prior: mu %.3g sigma %.3g z %.3g", am, as, az)
	if am != 0 || as != 0 || az > 1e-6 {
		t.Errorf("t=0.7 top prior: mu %.3g sigma %.3g z %.3g", am, as, az)
	}
}

// TestKLBalanceFixtures reproduces balanced_kl, kl_coeffs and kl_vals for the three
// recorded KL coefficients of both fixtures.
func TestKLBalanceFixtures(t *testing.T) {
	for _, fx := range []struct {
		path   string
		groups int
	}{{"testdata/f1.safetensors", 3}, {"testdata/f2.safetensors", 2}} {
		f := testutil.Load(t, fx.path)
		alpha := f.Get(t, "alpha_i").Data()
		for _, suffix := range []string{"", "_klc1", "_step0"} {
			tp := ad.NewNoGradTape()
			var klAll []*ad.Var
			for k := range fx.groups {
				klAll = append(klAll, ad.Const(f.Get(t, fmt.Sprintf("kl_all.%03d", k))))
			}
			coeff := f.Get(t, "kl_coeff"+suffix).Item()
			bal, coeffs, vals := KLBalance(tp, klAll, coeff, alpha)
			_, rb := testutil.MaxErr(bal.Data(), f.Get(t, "balanced_kl"+suffix).Data(), 1e-3)
			_, rc := testutil.MaxErr(coeffs, f.Get(t, "kl_coeffs"+suffix).Data(), 0)
			_, rv := testutil.MaxErr(vals, f.Get(t, "kl_vals").Data(), 1e-3)
			t.Logf("%s kl_coeff %g: balanced_kl rel %.3g, kl_coeffs rel %.3g, kl_vals rel %.3g", fx.path, coeff, rb, rc, rv)
			if rb > 1e-5 || rc > 1e-5 || rv > 1e-5 {
				t.Errorf("%s%s: balanced %.3g coeffs %.3g vals %.3g", fx.path, suffix, rb, rc, rv)
			}
			tp.Release()
		}
	}
}
