package serve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// fuzzMaxSide is the side limit of the fuzzed server: small, so that the allocation
// bound below is tight enough to catch a decoder that sizes its buffers from a
// declared dimension the limit should have refused.
const fuzzMaxSide = 64

// uploadAllocBound is the most bytes decoding and preparing one accepted upload may
// allocate with MaxSide side: a generous 512 bytes per allowed pixel (the decoded
// image, JPEG coefficient blocks, the resize buffers) plus 4 MiB of fixed cost
// (Huffman tables, zlib state, the model-input tensor, the fuzzer's own allocations
// in this process). A 1<<20-sided image would need terabytes.
func uploadAllocBound(side int) uint64 { return 512*uint64(side)*uint64(side) + 4<<20 }

// jpegWithSize encodes a small JPEG and patches its SOF0 marker to declare w×h.
func jpegWithSize(tb testing.TB, w, h int) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpegEncode(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		tb.Fatal(err)
	}
	out := b.Bytes()
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		tb.Fatal("no SOF0 marker in the encoded JPEG")
	}
	// FF C0, length (2), precision (1), height (2), width (2).
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

// uploadSeeds are the seed corpus of FuzzUpload: valid PNG and JPEG images (grey,
// RGB, paletted, 1-pixel, tall, wide, at the limit), truncated ones, and headers
// that declare dimensions far past the limit.
func uploadSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	rgb := image.NewNRGBA(image.Rect(0, 0, 9, 5))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 37)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.White})
	pal.Pix[4] = 1
	var seeds [][]byte
	for _, img := range []image.Image{rgb, image.NewGray(image.Rect(0, 0, 1, 1)), pal} {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
		b.Reset()
		if err := jpegEncode(&b, img); err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
	}
	full := pngBytes(tb, fuzzMaxSide, fuzzMaxSide)
	seeds = append(seeds,
		pngBytes(tb, 1, fuzzMaxSide), pngBytes(tb, fuzzMaxSide, 2), full,
		full[:len(full)/2], full[:40], seeds[1][:len(seeds[1])/2], seeds[1][:30],
		hugePNGHeader(1<<20, 1<<20), hugePNGHeader(fuzzMaxSide+1, 1), hugePNGHeader(0, 5),
		jpegWithSize(tb, 65535, 65535), jpegWithSize(tb, fuzzMaxSide, fuzzMaxSide+1),
		[]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), nil,
	)
	return seeds
}

// FuzzUpload feeds arbitrary bytes to the decoding of an uploaded image (the header
// check, then the decode and preprocessing the worker runs). No input may panic or
// allocate more than the side limit allows; an accepted upload becomes one model
// input of the model's shape with finite values; a refusal is a client error (400)
// naming the field.
func FuzzUpload(f *testing.F) {
	for _, b := range uploadSeeds(f) {
		f.Add(b)
	}
	s, err := New(tinyModel(f), Options{MaxSide: fuzzMaxSide, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	cfg := s.cfg
	want := []int{1, cfg.ImageSize(), cfg.ImageSize(), cfg.ImageChannels()}
	bound := uploadAllocBound(fuzzMaxSide)
	rng := rand.New(rand.NewPCG(1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x, err := s.decodeUpload(b, "image", rng)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > bound {
			t.Fatalf("decoding a %d-byte upload allocated %d bytes, more than the %d the side limit %d allows", len(b), n, bound, fuzzMaxSide)
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 400 || ae.field != "image" {
				t.Fatalf("refusal is not a 400 naming the field: %#v", err)
			}
			return
		}
		if hdr := s.checkHeader(b, "image"); hdr != nil {
			t.Fatalf("accepted an upload the header check refuses: %v", hdr)
		}
		if !slices.Equal(x.Shape(), want) {
			t.Fatalf("accepted upload has shape %v, want the model's %v", x.Shape(), want)
		}
		for i, v := range x.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("input value %d is %v", i, v)
			}
		}
	})
}

// TestDecodeUploadLimits: the decode path itself applies the side limit and the
// format check (not only readImages), and the seeds that must be accepted are.
func TestDecodeUploadLimits(t *testing.T) {
	s, err := New(tinyModel(t), Options{MaxSide: fuzzMaxSide, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name   string
		upload []byte
		ok     bool
	}{
		{"png at the limit", pngBytes(t, fuzzMaxSide, fuzzMaxSide), true},
		{"png 1×limit", pngBytes(t, 1, fuzzMaxSide), true},
		{"png one past the limit", pngBytes(t, fuzzMaxSide+1, 3), false},
		{"huge png header", hugePNGHeader(1<<20, 1<<20), false},
		{"huge jpeg header", jpegWithSize(t, 65535, 65535), false},
		{"jpeg one past the limit", jpegWithSize(t, 8, fuzzMaxSide+1), false},
		{"truncated png", pngBytes(t, 20, 20)[:60], false},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			x, err := s.decodeUpload(tc.upload, "image", rng)
			runtime.ReadMemStats(&after)
			if n, bound := after.TotalAlloc-before.TotalAlloc, uploadAllocBound(fuzzMaxSide); n > bound {
				t.Errorf("allocated %d bytes, bound %d", n, bound)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if want := []int{1, s.cfg.ImageSize(), s.cfg.ImageSize(), s.cfg.ImageChannels()}; !slices.Equal(x.Shape(), want) {
					t.Fatalf("shape %v, want %v", x.Shape(), want)
				}
				return
			}
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 400 || ae.field != "image" {
				t.Fatalf("got %v, want a 400 naming the field image", err)
			}
		})
	}
}
