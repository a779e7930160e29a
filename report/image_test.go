package report

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

// TestSaveImageByExtension: .png gives PNG bytes, .jpg/.jpeg JPEG bytes, others are
// refused without writing anything.
func TestSaveImageByExtension(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.White)
	for _, c := range []struct {
		name  string
		magic []byte
	}{
		{"a.png", []byte("\x89PNG")}, {"b.jpg", []byte{0xff, 0xd8, 0xff}}, {"c.JPEG", []byte{0xff, 0xd8, 0xff}},
		{"d.gif", nil}, {"e", nil},
	} {
		p := filepath.Join(dir, c.name)
		err := SaveImage(p, img)
		b, rerr := os.ReadFile(p)
		if c.magic == nil {
			if err == nil || rerr == nil {
				t.Errorf("%s: written (err %v)", c.name, err)
			}
			continue
		}
		if err != nil || !bytes.HasPrefix(b, c.magic) {
			t.Errorf("%s: err %v, starts with % x, want % x", c.name, err, b[:min(len(b), 4)], c.magic)
		}
	}
}
