// Package data loads image datasets into memory and turns them into training batches.
//
// A Dataset holds every image as uint8 in HWC order (one contiguous slice for the whole
// set). Readers cover the IDX format (MNIST, Fashion-MNIST), CIFAR-10 (binary records,
// Python pickles, and the official .tar.gz archives of both), folders of PNG/JPEG images
// and a small Fashion-MNIST subset embedded in the binary. Open picks the reader by
// dataset name; Download fetches the canonical archives with checksum verification.
//
// Transform reproduces the official NVAE input pipelines (docs/model.md#data): zero padding, ToTensor
// (/255), dynamic binarisation, random horizontal flips and num_x_bits reduction. Loader
// shuffles, batches and prepares batches ahead of time in a goroutine, producing float32
// NHWC tensors; its sequence depends only on the seed and it can be resumed exactly.
package data

import "fmt"

// Dataset is a set of equally sized images held in memory.
type Dataset struct {
	// Name describes where the data came from, e.g. "mnist/train".
	Name string
	// Images holds N images of H×W×C uint8 values each, HWC order, back to back.
	Images []uint8
	// N is the number of images; H, W, C their height, width and channel count.
	N, H, W, C int
	// Labels holds one class label per image, or is nil when the source has none.
	Labels []int
}

// ImageSize is the number of bytes of one image (H·W·C).
func (d *Dataset) ImageSize() int { return d.H * d.W * d.C }

// At returns image i as a slice of H·W·C bytes in HWC order. The slice aliases the
// dataset's storage.
func (d *Dataset) At(i int) []uint8 {
	s := d.ImageSize()
	return d.Images[i*s : (i+1)*s : (i+1)*s]
}

// Label returns the label of image i, or -1 when the dataset has no labels.
func (d *Dataset) Label(i int) int {
	if d.Labels == nil {
		return -1
	}
	return d.Labels[i]
}

// Slice returns the images lo..hi-1 as a dataset sharing d's storage.
func (d *Dataset) Slice(lo, hi int) (*Dataset, error) {
	if lo < 0 || hi > d.N || lo > hi {
		return nil, fmt.Errorf("data: slice [%d:%d] out of range for %s with %d images", lo, hi, d.Name, d.N)
	}
	s := d.ImageSize()
	out := &Dataset{
		Name:   fmt.Sprintf("%s[%d:%d]", d.Name, lo, hi),
		Images: d.Images[lo*s : hi*s : hi*s],
		N:      hi - lo, H: d.H, W: d.W, C: d.C,
	}
	if d.Labels != nil {
		out.Labels = d.Labels[lo:hi:hi]
	}
	return out, nil
}

// Validate checks that the fields are consistent with each other.
func (d *Dataset) Validate() error {
	if d.N < 0 || d.H <= 0 || d.W <= 0 || d.C <= 0 {
		return fmt.Errorf("data: dataset %s has invalid shape N=%d H=%d W=%d C=%d", d.Name, d.N, d.H, d.W, d.C)
	}
	if want := d.N * d.ImageSize(); len(d.Images) != want {
		return fmt.Errorf("data: dataset %s: expected %d image bytes for %d×%d×%d×%d, found %d",
			d.Name, want, d.N, d.H, d.W, d.C, len(d.Images))
	}
	if d.Labels != nil && len(d.Labels) != d.N {
		return fmt.Errorf("data: dataset %s: %d labels for %d images", d.Name, len(d.Labels), d.N)
	}
	return nil
}
