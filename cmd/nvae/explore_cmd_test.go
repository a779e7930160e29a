package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTestPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 5), uint8(y * 5), 128, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func pngBounds(t *testing.T, path string) image.Rectangle {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img.Bounds()
}

// TestInterpolateTraverseServeCLI: the explore commands write grids of the expected
// size and reject bad arguments with a one-line reason; serve refuses a public
// address without a token before loading anything.
func TestInterpolateTraverseServeCLI(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writeTestPNG(t, a, 40, 30)
	writeTestPNG(t, b, 28, 28)
	strip, grid := filepath.Join(dir, "strip.png"), filepath.Join(dir, "trav.png")
	for _, args := range [][]string{
		{"interpolate", "--checkpoint", fixtureCheckpoint, "--a", a, "--b", b, "--steps", "5", "--method", "slerp", "--out", strip},
		{"traverse", "--checkpoint", fixtureCheckpoint, "--image", a, "--n", "3", "--out", grid},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("nvae %v: exit %d: %s", args, code, errb.String())
		}
	}
	if r := pngBounds(t, strip); r.Dx() != 5*32 || r.Dy() != 32 {
		t.Errorf("interpolation strip is %v", r)
	}
	// the fixture model has 3 groups: rows keep 0..3
	if r := pngBounds(t, grid); r.Dx() != 3*32 || r.Dy() != 4*32 {
		t.Errorf("traversal grid is %v", r)
	}

	notImage := filepath.Join(dir, "x.png")
	os.WriteFile(notImage, []byte("text"), 0o644)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"interpolate", "--checkpoint", fixtureCheckpoint, "--b", b}, "--a is required"},
		{[]string{"interpolate", "--checkpoint", fixtureCheckpoint, "--a", a, "--b", b, "--steps", "1"}, "--steps"},
		{[]string{"interpolate", "--checkpoint", fixtureCheckpoint, "--a", a, "--b", b, "--method", "cubic"}, "--method"},
		{[]string{"interpolate", "--checkpoint", fixtureCheckpoint, "--a", notImage, "--b", b}, "not a PNG or JPEG"},
		{[]string{"interpolate", "--a", a, "--b", b}, "--checkpoint is required"},
		{[]string{"traverse", "--checkpoint", fixtureCheckpoint, "--image", a, "--keep", "9"}, "--keep"},
		{[]string{"traverse", "--checkpoint", fixtureCheckpoint, "--image", a, "--temp", "0"}, "--temp"},
		{[]string{"traverse", "--checkpoint", fixtureCheckpoint}, "--image is required"},
		{[]string{"serve"}, "--checkpoint is required"},
		{[]string{"serve", "--checkpoint", fixtureCheckpoint, "--addr", "0.0.0.0:0"}, "without --token"},
		{[]string{"serve", "--checkpoint", fixtureCheckpoint, "--addr", "nonsense"}, "nonsense"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 1 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("nvae %v: exit %d, stderr %q (want 1 and %q)", c.args, code, errb.String(), c.msg)
		}
	}
}
