package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist package installs the
// Fashion-MNIST files; Open uses it for fashion_mnist when dir is empty.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Options holds the settings of Open that only some datasets use.
type Options struct {
	// Folder configures the folder and celeba_64 datasets.
	Folder FolderOptions
}

// Names lists the dataset names Open accepts.
var Names = []string{"mnist", "fashion_mnist", "cifar10", "folder", "celeba_64", "embedded"}

// CanonicalName returns the entry of Names that an accepted spelling of a source
// name stands for ("fmnist" → "fashion_mnist"), or the lower-cased name when none does.
func CanonicalName(name string) string { return canonicalName(name) }

// canonicalName maps accepted spellings of a dataset name to the names in Names.
func canonicalName(name string) string {
	n := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	switch n {
	case "fashionmnist", "fmnist":
		return "fashion_mnist"
	case "cifar_10":
		return "cifar10"
	case "celeba64":
		return "celeba_64"
	}
	return n
}

// Open loads split ("train", or "test"/"valid") of the named dataset from dir:
//
//   - mnist, fashion_mnist: IDX files as LoadMNIST finds them; fashion_mnist with an
//     empty dir reads DefaultFashionMNISTDir.
//   - cifar10: LoadCIFAR10 (binary or Python batches, or the official archives).
//   - folder: LoadFolder on dir/<split> when that directory exists (for "test" also
//     dir/valid, dir/val), else on dir itself for "train" (for "test" that is an
//     error, so that evaluation never silently reuses the training images);
//     opts.Folder sets the size and channels.
//   - celeba_64: folder with the official CelebA-64 crop and size 64, RGB.
//   - embedded: the Fashion-MNIST subset built into the binary (dir is ignored).
//
// The returned dataset's Name is "<name>/<split>".
func Open(name, dir, split string, opts Options) (*Dataset, error) {
	cn := canonicalName(name)
	sp, err := normSplit(split)
	if err != nil {
		return nil, err
	}
	var ds *Dataset
	switch cn {
	case "mnist":
		ds, err = LoadMNIST(dir, sp)
	case "fashion_mnist":
		if dir == "" {
			dir = DefaultFashionMNISTDir
		}
		ds, err = LoadMNIST(dir, sp)
	case "cifar10":
		ds, err = LoadCIFAR10(dir, sp)
	case "folder", "celeba_64":
		fo := opts.Folder
		if cn == "celeba_64" {
			fo.CelebA64Crop, fo.Size, fo.Channels = true, 64, 3
		}
		var d string
		if d, err = folderSplitDir(dir, sp); err == nil {
			ds, err = LoadFolder(d, fo)
		}
	case "embedded":
		ds, err = Embedded(sp)
	default:
		return nil, fmt.Errorf("data: unknown dataset %q: expected one of %s", name, strings.Join(Names, ", "))
	}
	if err != nil {
		return nil, err
	}
	ds.Name = cn + "/" + sp
	return ds, nil
}

// folderSplitDir picks the directory of a split of an image-folder dataset.
func folderSplitDir(dir, split string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("data: folder dataset needs a directory")
	}
	cands := []string{"train"}
	if split == "test" {
		cands = []string{"test", "valid", "val"}
	}
	for _, c := range cands {
		p := filepath.Join(dir, c)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
	}
	if split == "train" {
		return dir, nil
	}
	return "", fmt.Errorf("data: folder %s has no test/, valid/ or val/ subdirectory for the %s split", dir, split)
}

// OpenFor is Open for a model whose input images are size×size×channels: images of a
// folder source are cropped and resized to that size and converted to that many
// channels (the other sources have fixed shapes, which the caller checks).
func OpenFor(name, dir, split string, size, channels int) (*Dataset, error) {
	return Open(name, dir, split, Options{Folder: FolderOptions{Size: size, Channels: channels}})
}

// EvalLoader returns a loader over ds with the official test-time preprocessing of
// the source ds was read from, else of dataset (TransformFor with train false: numBits bits per channel,
// binarisation; no flips), in dataset order, every image, batch images at a time.
func EvalLoader(ds *Dataset, dataset string, numBits, batch int, seed uint64) (*Loader, error) {
	tr, err := TransformFor(ds, dataset, false, numBits)
	if err != nil {
		return nil, err
	}
	return NewLoader(ds, LoaderConfig{BatchSize: batch, Seed: seed, Transform: tr})
}
