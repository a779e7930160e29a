package data

import (
	"fmt"
	"image"
)

// PrepareImage converts a decoded image as LoadFolder converts its files: to grey
// (channels 1) or RGB (channels 3), cut to the centred square of side min(W,H) and
// resized to size×size with PIL's bilinear filter. It returns HWC bytes.
func PrepareImage(img image.Image, size, channels int) ([]uint8, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("data: PrepareImage: channels is %d: expected 1 or 3", channels)
	}
	if size <= 0 {
		return nil, fmt.Errorf("data: PrepareImage: size must be positive, got %d", size)
	}
	if img == nil || img.Bounds().Empty() {
		return nil, fmt.Errorf("data: PrepareImage: the image is empty")
	}
	return prepareFolderImage(img, "image", FolderOptions{Size: size, Channels: channels})
}
