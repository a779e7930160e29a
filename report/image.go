package report

import (
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"path/filepath"
	"strings"

	"github.com/nvae-go/nvae/internal/atomicfile"
)

// ImageFormat returns the format SaveImage writes for path, from its extension
// (case-insensitive): "png" for .png, "jpeg" for .jpg and .jpeg; any other
// extension is an error that lists the accepted ones, so a command can refuse a
// bad --out before doing any work.
func ImageFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".jpg", ".jpeg":
		return "jpeg", nil
	}
	return "", fmt.Errorf("%s: the image format is chosen by the extension: .png, .jpg or .jpeg", path)
}

// SaveImage writes img atomically at path as PNG or JPEG (quality 95) according to
// its extension (see ImageFormat).
func SaveImage(path string, img image.Image) error {
	format, err := ImageFormat(path)
	if err != nil {
		return err
	}
	if format == "png" {
		return SavePNG(path, img)
	}
	if img == nil {
		return fmt.Errorf("report: save jpeg %s: nil image", path)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 95})
	})
	if err != nil {
		return fmt.Errorf("report: save jpeg: %w", err)
	}
	return nil
}
