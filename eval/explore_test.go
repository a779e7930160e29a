package eval

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensor"
)

// decoderModels are tiny models with each decoder: Bernoulli (no flows), discretised
// logistic mixture (with a flow) and Normal.
func decoderModels(t *testing.T) map[string]*model.Model {
	t.Helper()
	out := map[string]*model.Model{}
	for name, edit := range map[string]func(c *model.Config){
		"bernoulli": nil,
		"logistic":  nil,
		"normal":    func(c *model.Config) { c.NumMixtureDec = 1 },
	} {
		preset := "tiny_cifar10"
		if name == "bernoulli" {
			preset = "tiny_mnist"
		}
		cfg, err := model.Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&cfg)
		}
		m, err := model.New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = m
	}
	return out
}

func randomImage(cfg model.Config, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 9))
	s := cfg.ImageSize()
	x := tensor.New(1, s, s, cfg.ImageChannels())
	for i := range x.Data() {
		if cfg.Binary() {
			if r.Float32() < 0.3 {
				x.Data()[i] = 1
			}
		} else {
			x.Data()[i] = float32(r.IntN(256)) / 255
		}
	}
	return x
}

// image i of a batch, flattened.
func imageAt(x *tensor.Tensor, i int) []float32 {
	per := x.Len() / x.Dim(0)
	return x.Data()[i*per : (i+1)*per]
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func meanRecon(t *testing.T, m *model.Model, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	zs, err := PosteriorMeans(m, x)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decode(m, zs, PixelMean, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInterpolateEnds: for every decoder, with and without re-adjusted BN statistics,
// and for both methods, the strip starts and ends at the mean reconstructions of the
// two images and its middle differs from both.
func TestInterpolateEnds(t *testing.T) {
	for name, m := range decoderModels(t) {
		a, b := randomImage(m.Cfg, 1), randomImage(m.Cfg, 2)
		for _, readjust := range []bool{false, true} {
			if readjust {
				if err := ReadjustBN(m, 2, 4, 0.7, model.RandNoise{R: rand.New(rand.NewPCG(4, 4))}); err != nil {
					t.Fatal(err)
				}
			}
			ra, rb := meanRecon(t, m, a), meanRecon(t, m, b)
			for _, method := range []InterpMethod{Lerp, Slerp} {
				strip, err := Interpolate(m, a, b, 5, method, PixelMean, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if want := []int{5, m.Cfg.ImageSize(), m.Cfg.ImageSize(), m.Cfg.ImageChannels()}; !tensor.SameShape(strip.Shape(), want) {
					t.Fatalf("%s: strip shape %v, want %v", name, strip.Shape(), want)
				}
				if d := maxDiff(imageAt(strip, 0), ra.Data()); d > 1e-4 {
					t.Errorf("%s readjust=%v method=%d: first image differs from the reconstruction of a by %g", name, readjust, method, d)
				}
				if d := maxDiff(imageAt(strip, 4), rb.Data()); d > 1e-4 {
					t.Errorf("%s readjust=%v method=%d: last image differs from the reconstruction of b by %g", name, readjust, method, d)
				}
				mid := imageAt(strip, 2)
				if maxDiff(mid, ra.Data()) < 1e-3 || maxDiff(mid, rb.Data()) < 1e-3 {
					t.Errorf("%s method=%d: the middle of the strip equals an end", name, method)
				}
			}
		}
	}
}

// TestTraverse: keeping every group repeats the mean reconstruction; keeping none is
// Sample with the same noise; keeping some gives images that differ from each other.
func TestTraverse(t *testing.T) {
	for name, m := range decoderModels(t) {
		x := randomImage(m.Cfg, 7)
		g := m.Cfg.NumGroups()
		noise := func() model.Noise { return model.RandNoise{R: rand.New(rand.NewPCG(8, 8))} }

		all, err := Traverse(m, x, g, 0.7, 3, PixelMean, noise(), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec := meanRecon(t, m, x)
		for i := range 3 {
			if d := maxDiff(imageAt(all, i), rec.Data()); d > 1e-5 {
				t.Errorf("%s: keep=all image %d differs from the mean reconstruction by %g", name, i, d)
			}
		}

		none, err := Traverse(m, x, 0, 0.7, 3, PixelMean, noise(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Sample(m, 3, 0.7, PixelMean, noise(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(none.Data(), s.Data()); d != 0 {
			t.Errorf("%s: keep=0 differs from Sample by %g", name, d)
		}

		some, err := Traverse(m, x, 1, 1, 3, PixelMean, noise(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if maxDiff(imageAt(some, 0), imageAt(some, 1)) < 1e-4 {
			t.Errorf("%s: keep=1 gave identical images", name)
		}
	}
}

func TestExploreErrors(t *testing.T) {
	m := tinyModel(t)
	x := randomImage(m.Cfg, 1)
	two := binaryImages(2, 1)
	wrong := tensor.New(1, 16, 16, 1)
	noise := model.RandNoise{R: rand.New(rand.NewPCG(1, 1))}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"steps 1", func() error { _, err := Interpolate(m, x, x, 1, Lerp, PixelMean, nil); return err }()},
		{"bad method", func() error { _, err := Interpolate(m, x, x, 3, InterpMethod(7), PixelMean, nil); return err }()},
		{"batch end", func() error { _, err := Interpolate(m, two, x, 3, Lerp, PixelMean, nil); return err }()},
		{"wrong size", func() error { _, err := Interpolate(m, x, wrong, 3, Lerp, PixelMean, nil); return err }()},
		{"keep -1", func() error { _, err := Traverse(m, x, -1, 1, 2, PixelMean, noise, nil); return err }()},
		{"keep too many", func() error { _, err := Traverse(m, x, m.Cfg.NumGroups()+1, 1, 2, PixelMean, noise, nil); return err }()},
		{"n 0", func() error { _, err := Traverse(m, x, 1, 1, 0, PixelMean, noise, nil); return err }()},
		{"NaN temp", func() error { _, err := Traverse(m, x, 1, float32(math.NaN()), 2, PixelMean, noise, nil); return err }()},
		{"Inf temp", func() error { _, err := Traverse(m, x, 1, float32(math.Inf(1)), 2, PixelMean, noise, nil); return err }()},
		{"traverse batch", func() error { _, err := Traverse(m, two, 1, 1, 2, PixelMean, noise, nil); return err }()},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := ParseInterpMethod("cubic"); err == nil {
		t.Error("ParseInterpMethod accepted cubic")
	}
}

func TestInterp(t *testing.T) {
	a, b := []float32{1, 0}, []float32{0, 1}
	for _, c := range []struct {
		method InterpMethod
		alpha  float64
		want   []float32
	}{
		{Lerp, 0, []float32{1, 0}},
		{Lerp, 1, []float32{0, 1}},
		{Lerp, 0.5, []float32{0.5, 0.5}},
		{Slerp, 0, []float32{1, 0}},
		{Slerp, 1, []float32{0, 1}},
		{Slerp, 0.5, []float32{float32(math.Sqrt(0.5)), float32(math.Sqrt(0.5))}},
		{Slerp, 1.0 / 3, []float32{float32(math.Cos(math.Pi / 6)), float32(math.Sin(math.Pi / 6))}},
	} {
		got := make([]float32, 2)
		interp(got, a, b, c.alpha, c.method)
		if maxDiff(got, c.want) > 1e-6 {
			t.Errorf("method %d alpha %v: got %v, want %v", c.method, c.alpha, got, c.want)
		}
	}
	// parallel vectors: slerp falls back to lerp
	got := make([]float32, 2)
	interp(got, []float32{1, 1}, []float32{2, 2}, 0.5, Slerp)
	if maxDiff(got, []float32{1.5, 1.5}) > 1e-6 {
		t.Errorf("slerp of parallel vectors: %v", got)
	}
}

// TestImageInput: uploads of any size become model inputs as the training pipeline
// makes them.
func TestImageInput(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 100, 50))
	for y := range 50 {
		for x := range 100 {
			img.Set(x, y, color.NRGBA{uint8(x * 2), uint8(y * 4), 77, 255})
		}
	}
	cfgM, _ := model.Preset("tiny_mnist")
	x, err := ImageInput(cfgM, img, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(x.Shape(), []int{1, 32, 32, 1}) {
		t.Fatalf("mnist input shape %v", x.Shape())
	}
	ones := 0
	for i, v := range x.Data() {
		y, xx := i/32, i%32
		if (y < 2 || y >= 30 || xx < 2 || xx >= 30) && v != 0 {
			t.Fatalf("padding pixel (%d,%d) = %v", y, xx, v)
		}
		if v != 0 && v != 1 {
			t.Fatalf("mnist input not binarised: %v", v)
		}
		if v == 1 {
			ones++
		}
	}
	if ones == 0 {
		t.Error("binarised image is all zero")
	}
	cfgC, _ := model.Preset("tiny_cifar10")
	x, err = ImageInput(cfgC, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(x.Shape(), []int{1, 16, 16, 3}) {
		t.Fatalf("cifar input shape %v", x.Shape())
	}
	for _, v := range x.Data() {
		if q := v * 255; math.Abs(float64(q-float32(math.Round(float64(q))))) > 1e-3 {
			t.Fatalf("value %v is not a multiple of 1/255", v)
		}
	}
	// the blue channel is constant 77 everywhere
	if b := x.Data()[2] * 255; math.Abs(float64(b)-77) > 1e-3 {
		t.Errorf("blue = %v, want 77", b)
	}
	if _, err := ImageInput(cfgC, image.NewNRGBA(image.Rect(0, 0, 0, 0)), nil); err == nil {
		t.Error("empty image accepted")
	}
}
