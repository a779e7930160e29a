package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder
	_ "image/png"  // registers the PNG decoder
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// CelebA64Box is the crop box (left, top, right, bottom) the official celeba_64
// pipeline cuts out of the 178×218 aligned CelebA images before resizing to 64.
var CelebA64Box = [4]int{15, 40, 163, 188}

// FolderOptions configures LoadFolder.
type FolderOptions struct {
	// Size is the side of the square output images. 0 means 64 with CelebA64Crop and
	// is an error otherwise.
	Size int
	// Channels is 1 (grey, PIL's "L" conversion) or 3 (RGB); 0 means 3.
	Channels int
	// CelebA64Crop cuts CelebA64Box out of every image instead of the centred square.
	CelebA64Crop bool
	// Workers is the number of decoding goroutines; 0 means GOMAXPROCS.
	Workers int
}

// isImageFile reports whether name has a PNG or JPEG extension.
func isImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// LoadFolder reads every PNG and JPEG file under dir (recursively, in lexical path
// order) into a dataset of Size×Size images with Channels channels. Each image is
// converted to RGB (or grey), cut to a square (the centred square of side min(W,H),
// offsets rounded as torchvision's CenterCrop does, or CelebA64Box), and resized with
// PIL's bilinear filter. The dataset has no labels.
func LoadFolder(dir string, opts FolderOptions) (*Dataset, error) {
	if opts.Channels == 0 {
		opts.Channels = 3
	}
	if opts.Channels != 1 && opts.Channels != 3 {
		return nil, fmt.Errorf("data: folder %s: Channels is %d: expected 1 or 3", dir, opts.Channels)
	}
	if opts.Size == 0 && opts.CelebA64Crop {
		opts.Size = 64
	}
	if opts.Size <= 0 {
		return nil, fmt.Errorf("data: folder %s: output Size must be positive, found %d", dir, opts.Size)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && isImageFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data: folder %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data: folder %s holds no .png, .jpg or .jpeg files", dir)
	}
	s, c := opts.Size, opts.Channels
	isz := s * s * c
	ds := &Dataset{Name: dir, Images: make([]uint8, len(files)*isz), N: len(files), H: s, W: s, C: c}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(files))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		next    int
		firstEr error
		errIdx  = len(files)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := firstEr != nil
				mu.Unlock()
				if i >= len(files) || stop {
					return
				}
				pix, err := loadFolderImage(files[i], opts)
				if err != nil {
					mu.Lock()
					if i < errIdx {
						firstEr, errIdx = err, i
					}
					mu.Unlock()
					return
				}
				copy(ds.Images[i*isz:], pix)
			}
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return nil, fmt.Errorf("data: folder %s: %w", dir, firstEr)
	}
	return ds, nil
}

// MaxImagePixels bounds the width × height of an image file LoadFolder decodes
// (2²⁵, about 33.5 megapixels: up to 256 MB once decoded at 8 bytes per pixel), so
// that a corrupt or hostile header cannot demand an impossible allocation.
const MaxImagePixels = 1 << 25

// imagePixelLimit is the bound decodeFolderImage applies: MaxImagePixels, lowered by
// the fuzz test so that each input decodes in milliseconds.
var imagePixelLimit int64 = MaxImagePixels

// loadFolderImage decodes, crops and resizes one file.
func loadFolderImage(path string, opts FolderOptions) ([]uint8, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeFolderImage(b, path, opts)
}

// decodeFolderImage decodes the PNG or JPEG file content b (path names it in
// errors), checking its dimensions against imagePixelLimit before decoding, then
// crops and resizes it.
func decodeFolderImage(b []byte, path string, opts FolderOptions) ([]uint8, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("file %s: decoding image: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > imagePixelLimit {
		return nil, fmt.Errorf("file %s: image is %d×%d: expected 1 to %d pixels", path, cfg.Width, cfg.Height, imagePixelLimit)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("file %s: decoding image: %w", path, err)
	}
	return prepareFolderImage(img, path, opts)
}

// prepareFolderImage converts, crops and resizes a decoded image.
func prepareFolderImage(img image.Image, path string, opts FolderOptions) ([]uint8, error) {
	pix, w, h := imageToBytes(img, opts.Channels)
	c := opts.Channels
	var left, top, side int
	if opts.CelebA64Crop {
		b := CelebA64Box
		if w < b[2] || h < b[3] {
			return nil, fmt.Errorf("file %s: image is %d×%d: the CelebA-64 crop box %v needs at least %d×%d", path, w, h, b, b[2], b[3])
		}
		left, top, side = b[0], b[1], b[2]-b[0]
	} else {
		side = min(w, h)
		left, top = roundHalfEven(float64(w-side)/2), roundHalfEven(float64(h-side)/2)
	}
	if side < 1 {
		return nil, fmt.Errorf("file %s: image is empty (%d×%d)", path, w, h)
	}
	if left != 0 || top != 0 || side != w || side != h {
		pix = cropHWC(pix, w, c, left, top, side, side)
	}
	return resizeBilinear(pix, side, side, c, opts.Size, opts.Size), nil
}

// greyFromRGB is PIL's RGB→L conversion (ITU-R 601-2 luma in 16-bit fixed point).
func greyFromRGB(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// imageToBytes returns img's pixels as HWC bytes with 1 or 3 channels. Alpha is
// dropped without compositing, as PIL's convert("RGB") does.
func imageToBytes(img image.Image, channels int) ([]uint8, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, 0, w*h*channels)
	put := func(r, g, bl uint8) {
		if channels == 1 {
			out = append(out, greyFromRGB(r, g, bl))
		} else {
			out = append(out, r, g, bl)
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := 0; x < w; x++ {
				if channels == 1 {
					out = append(out, row[x])
				} else {
					out = append(out, row[x], row[x], row[x])
				}
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := 0; x < w; x++ {
				put(row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				put(color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci]))
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				put(c.R, c.G, c.B)
			}
		}
	}
	return out, w, h
}
