package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestReduceBitsExact(t *testing.T) {
	for bits := 1; bits <= 8; bits++ {
		for v := 0; v < 256; v++ {
			got := ReduceBits(uint8(v), bits)
			// Integer form of floor(x·255 / 2^(8−bits)) / (2^bits − 1) with x = v/255.
			want := float32(v) / 255
			if bits < 8 {
				want = float32(v>>(8-bits)) / float32(int(1)<<bits-1)
			}
			if got != want {
				t.Fatalf("bits=%d v=%d: got %v, want %v", bits, v, got, want)
			}
		}
	}
	for _, c := range []struct {
		v    uint8
		bits int
		want float32
	}{
		{255, 5, 1}, {0, 5, 0}, {7, 5, 0}, {8, 5, float32(1) / 31}, {128, 1, 1}, {127, 1, 0},
		{200, 0, float32(200) / 255}, {200, 8, float32(200) / 255}, {100, 4, float32(6) / 15},
	} {
		if got := ReduceBits(c.v, c.bits); got != c.want {
			t.Errorf("ReduceBits(%d, %d) = %v, want %v", c.v, c.bits, got, c.want)
		}
	}
}

func TestTransformPad(t *testing.T) {
	img := seq(3*2*2, 20, 5) // 3×2 image, 2 channels
	tr := Transform{Pad: 2}
	oh, ow, oc := tr.OutShape(3, 2, 2)
	if oh != 7 || ow != 6 || oc != 2 {
		t.Fatalf("OutShape = %d,%d,%d", oh, ow, oc)
	}
	dst := make([]float32, oh*ow*oc)
	for i := range dst {
		dst[i] = -1 // must be overwritten, padding included
	}
	tr.Apply(dst, img, 3, 2, 2, rand.New(rand.NewPCG(1, 2)))
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			for c := 0; c < oc; c++ {
				got := dst[(y*ow+x)*oc+c]
				want := float32(0)
				if y >= 2 && y < 5 && x >= 2 && x < 4 {
					want = float32(img[((y-2)*2+(x-2))*2+c]) / 255
				}
				if got != want {
					t.Fatalf("(%d,%d,%d) = %v, want %v", y, x, c, got, want)
				}
			}
		}
	}
}

func TestTransformFlip(t *testing.T) {
	const h, w, c = 2, 3, 3
	img := seq(h*w*c, 9, 1)
	tr := Transform{HFlip: true}
	rng := rand.New(rand.NewPCG(3, 4))
	flips := 0
	const n = 4000
	dst := make([]float32, h*w*c)
	for k := 0; k < n; k++ {
		tr.Apply(dst, img, h, w, c, rng)
		same, mirrored := true, true
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < c; ch++ {
					v := dst[(y*w+x)*c+ch]
					same = same && v == float32(img[(y*w+x)*c+ch])/255
					mirrored = mirrored && v == float32(img[(y*w+w-1-x)*c+ch])/255
				}
			}
		}
		if same == mirrored {
			t.Fatalf("output is neither the image nor its mirror (same=%v mirrored=%v)", same, mirrored)
		}
		if mirrored {
			flips++
		}
	}
	// Binomial(4000, 1/2): standard deviation ≈ 31.6; allow 5σ.
	if math.Abs(float64(flips)-n/2) > 160 {
		t.Fatalf("%d flips in %d draws", flips, n)
	}
	// Without HFlip nothing changes and no randomness is used.
	Transform{}.Apply(dst, img, h, w, c, nil)
	for i, v := range dst {
		if v != float32(img[i])/255 {
			t.Fatal("identity transform changed the image")
		}
	}
}

func TestTransformBinarize(t *testing.T) {
	// One image holding every byte value; many draws per value.
	img := make([]uint8, 256)
	for i := range img {
		img[i] = uint8(i)
	}
	tr := Transform{Binarize: true, NumBits: 5}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 2000
	ones := make([]int, 256)
	dst := make([]float32, 256)
	for k := 0; k < n; k++ {
		tr.Apply(dst, img, 16, 16, 1, rng)
		for i, v := range dst {
			switch v {
			case 1:
				ones[i]++
			case 0:
			default:
				t.Fatalf("binarised value %v", v)
			}
		}
	}
	if ones[0] != 0 || ones[255] != n {
		t.Fatalf("p=0 gave %d ones, p=1 gave %d of %d", ones[0], ones[255], n)
	}
	var worst float64
	for v := 1; v < 255; v++ {
		p := float64(v) / 255
		z := (float64(ones[v]) - n*p) / math.Sqrt(n*p*(1-p))
		worst = math.Max(worst, math.Abs(z))
	}
	if worst > 5 {
		t.Fatalf("largest |z| of the Bernoulli frequencies is %.2f", worst)
	}
	// The padding of a binarised MNIST-like image stays 0.
	pad := Transform{Pad: 2, Binarize: true}
	full := make([]uint8, 28*28)
	for i := range full {
		full[i] = 255
	}
	out := make([]float32, 32*32)
	pad.Apply(out, full, 28, 28, 1, rng)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			inside := y >= 2 && y < 30 && x >= 2 && x < 30
			if v := out[y*32+x]; (v == 1) != inside {
				t.Fatalf("(%d,%d) = %v", y, x, v)
			}
		}
	}
}

func TestOfficialTransform(t *testing.T) {
	cases := []struct {
		name  string
		train bool
		want  Transform
	}{
		{"mnist", true, Transform{Pad: 2, Binarize: true, NumBits: 8}},
		{"mnist", false, Transform{Pad: 2, Binarize: true, NumBits: 8}},
		{"fashion-mnist", false, Transform{Pad: 2, Binarize: true, NumBits: 8}},
		{"embedded", true, Transform{Pad: 2, Binarize: true, NumBits: 8}},
		{"cifar10", true, Transform{HFlip: true, NumBits: 8}},
		{"cifar10", false, Transform{NumBits: 8}},
		{"celeba_64", true, Transform{HFlip: true, NumBits: 8}},
		{"folder", false, Transform{NumBits: 8}},
	}
	for _, c := range cases {
		got, err := OfficialTransform(c.name, c.train, 8)
		if err != nil || got != c.want {
			t.Errorf("%s train=%v: %+v, %v; want %+v", c.name, c.train, got, err, c.want)
		}
	}
	if _, err := OfficialTransform("imagenet_32", true, 8); err == nil {
		t.Error("unknown dataset accepted")
	}
	if _, err := OfficialTransform("cifar10", true, 9); err == nil {
		t.Error("9 bits accepted")
	}
}
