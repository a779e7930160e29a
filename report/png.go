package report

import (
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/nvae-go/nvae/internal/atomicfile"
)

// SavePNG writes img as a PNG file at path atomically: the data goes to a temporary
// file in the same directory, which is synced and then renamed over path, so readers
// never see a half-written image. The file gets mode 0644.
func SavePNG(path string, img image.Image) error {
	if img == nil {
		return fmt.Errorf("report: save png %s: nil image", path)
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		return png.Encode(w, img)
	})
	if err != nil {
		return fmt.Errorf("report: save png: %w", err)
	}
	return nil
}
