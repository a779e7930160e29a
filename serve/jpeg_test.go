package serve

import (
	"image"
	"image/jpeg"
	"io"
)

func jpegEncode(w io.Writer, img image.Image) error {
	return jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
}
