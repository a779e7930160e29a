package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"
)

// The fuzz targets check that no input makes a reader panic or allocate beyond
// what the input holds. `.ci/run` runs each for a few seconds; locally:
//
//	go test -run '^$' -fuzz '^FuzzDecodeIDX$' -fuzztime 60s ./data

// FuzzDecodeIDX decodes arbitrary bytes as an IDX file, both as a stream of unknown
// length and with the size known (as when reading a file); an accepted file's
// payload must match its dimensions.
func FuzzDecodeIDX(f *testing.F) {
	for _, c := range []struct {
		dims []int
		gz   bool
	}{{[]int{3}, false}, {[]int{2, 3, 4}, false}, {[]int{2, 2}, true}, {[]int{1, 1, 1, 2}, false}} {
		n := 1
		for _, d := range c.dims {
			n *= d
		}
		var raw bytes.Buffer
		if err := WriteIDX(&raw, c.dims, seq(n, 7, 1)); err != nil {
			f.Fatal(err)
		}
		b := raw.Bytes()
		if c.gz {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(b)
			zw.Close()
			b = z.Bytes()
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, size := range []int64{-1, int64(len(b))} {
			dims, payload, err := decodeIDX(bytes.NewReader(b), "fuzz", size)
			if err != nil {
				continue
			}
			n := 1
			for _, d := range dims {
				n *= d
			}
			if len(payload) != n {
				t.Fatalf("dims %v with %d payload bytes", dims, len(payload))
			}
		}
	})
}

// FuzzDecodeCIFAR10Binary decodes arbitrary bytes as a CIFAR-10 binary batch.
func FuzzDecodeCIFAR10Binary(f *testing.F) {
	f.Add(makeCifarBatch(0, 1).binary())
	f.Add(makeCifarBatch(1, 2).binary())
	f.Fuzz(func(t *testing.T, b []byte) {
		images, labels, err := DecodeCIFAR10Binary(b, "fuzz", nil, nil)
		if err == nil && len(images) != len(labels)*cifarImageSize {
			t.Fatalf("%d image bytes for %d labels", len(images), len(labels))
		}
	})
}

// FuzzDecodeCIFAR10Pickle decodes arbitrary bytes as a CIFAR-10 Python batch.
func FuzzDecodeCIFAR10Pickle(f *testing.F) {
	f.Add(makeCifarBatch(0, 1).pickle2())
	f.Add(makeCifarBatch(2, 3).pickle2())
	if b, err := os.ReadFile("testdata/cifar_numpy_py3_protocol2.pickle"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		images, labels, err := DecodeCIFAR10Pickle(bytes.NewReader(b), "fuzz", nil, nil)
		if err == nil && len(images) != len(labels)*cifarImageSize {
			t.Fatalf("%d image bytes for %d labels", len(images), len(labels))
		}
	})
}

// FuzzFolderImage decodes arbitrary bytes as one image file of a folder dataset
// (PNG or JPEG), grey and RGB, with the centred crop and the CelebA-64 crop.
func FuzzFolderImage(f *testing.F) {
	// Headers up to the real limit are tested in TestDecodeFolderImageLimit; here a lower
	// one keeps every input fast (a 33-megapixel decode takes seconds, which stalls the
	// fuzzing engine past its deadline). The limit check itself is still exercised.
	limit := imagePixelLimit
	imagePixelLimit = 1 << 16
	f.Cleanup(func() { imagePixelLimit = limit })
	rgb := image.NewRGBA(image.Rect(0, 0, 5, 7))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 37)
	}
	grey := image.NewGray(image.Rect(0, 0, 4, 3))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 20)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.White})
	for _, img := range []image.Image{rgb, grey, pal} {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
		b.Reset()
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 50}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opts := range []FolderOptions{{Size: 4, Channels: 3}, {Size: 3, Channels: 1}, {Size: 2, Channels: 3, CelebA64Crop: true}} {
			pix, err := decodeFolderImage(b, "fuzz.png", opts)
			if err == nil && len(pix) != opts.Size*opts.Size*opts.Channels {
				t.Fatalf("%d bytes for a %d×%d×%d image", len(pix), opts.Size, opts.Size, opts.Channels)
			}
		}
	})
}

// TestDecodeFolderImageLimit: a PNG whose header claims more than MaxImagePixels is
// refused from its header, before any pixel is decoded; one just inside the limit
// passes the check (and then fails on its missing pixel data, not on the limit).
func TestDecodeFolderImageLimit(t *testing.T) {
	header := func(w, h uint32) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
			t.Fatal(err)
		}
		p := b.Bytes()[:33] // signature + IHDR chunk (length, type, 13 bytes, CRC)
		binary.BigEndian.PutUint32(p[16:], w)
		binary.BigEndian.PutUint32(p[20:], h)
		binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
		return p
	}
	opts := FolderOptions{Size: 4, Channels: 1}
	_, err := decodeFolderImage(header(6000, 6000), "big.png", opts)
	if err == nil || !strings.Contains(err.Error(), "expected 1 to 33554432 pixels") {
		t.Fatalf("6000×6000 header: err = %v, want the pixel limit", err)
	}
	_, err = decodeFolderImage(header(4096, 4096), "edge.png", opts)
	if err == nil || strings.Contains(err.Error(), "pixels") {
		t.Fatalf("4096×4096 header (inside the limit): err = %v, want a decoding error, not the limit", err)
	}
}
