package data

import (
	"bytes"
	"embed"
	"fmt"
)

//go:generate go run ./internal/genembed -out embedded -train 4000 -test 1000

// embeddedFS holds the first 4000 Fashion-MNIST training images and the first 1000
// test images with their labels, as gzip-compressed IDX files (see embedded/NOTICE).
//
//go:embed embedded/*.gz
var embeddedFS embed.FS

// Embedded returns a split ("train": 4000 images, "test"/"valid": 1000 images) of the
// Fashion-MNIST subset built into the binary: the first images of the official
// training and test sets, 28×28 grey, with labels. Each call returns a fresh copy.
func Embedded(split string) (*Dataset, error) {
	sp, err := normSplit(split)
	if err != nil {
		return nil, err
	}
	prefix := map[string]string{"train": "train", "test": "t10k"}[sp]
	read := func(name string) ([]int, []uint8, error) {
		b, err := embeddedFS.ReadFile("embedded/" + name)
		if err != nil {
			return nil, nil, fmt.Errorf("data: embedded: %w", err)
		}
		dims, payload, err := DecodeIDX(bytes.NewReader(b), "embedded/"+name)
		if err != nil {
			return nil, nil, fmt.Errorf("data: embedded: %w", err)
		}
		return dims, payload, nil
	}
	dims, payload, err := read(prefix + "-images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	ds, err := idxImages("embedded/"+sp, dims, payload)
	if err != nil {
		return nil, err
	}
	ldims, lpayload, err := read(prefix + "-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	if ds.Labels, err = idxLabels("embedded/"+sp, ldims, lpayload); err != nil {
		return nil, err
	}
	if len(ds.Labels) != ds.N {
		return nil, fmt.Errorf("data: embedded %s: %d labels for %d images", sp, len(ds.Labels), ds.N)
	}
	return ds, nil
}
