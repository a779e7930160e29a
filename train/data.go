package train

import (
	"fmt"
	"strings"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
)

// Two flags say what a run reads and what it models, and they have different lists:
// the image source (--data, Options.Data) names a reader of data.Names; the dataset
// (--dataset, model.Config.Dataset) keeps the official train.py meaning and decides the
// likelihood, input size and bit depth. The readers feed two families of datasets.
var (
	// binarySources give 28×28 greyscale digits, padded to 32×32 and dynamically
	// binarised: the input of the Bernoulli datasets (mnist, omniglot).
	binarySources = []string{"mnist", "fashion_mnist", "embedded"}
	// colourSources give RGB images: the input of the logistic-mixture (or Normal)
	// datasets, every official --dataset other than mnist and omniglot.
	colourSources = []string{"cifar10", "folder", "celeba_64"}
	// fixedSize is the side length of the sources that cannot resize their images.
	fixedSize = map[string]int{"cifar10": 32, "celeba_64": 64}
)

// CheckSource reports whether the image source src (--data) can feed a model of cfg
// (--dataset, input_size): a binary dataset needs a greyscale digit source and a colour
// dataset a colour source of the model's size. Unknown sources are left to data.Open.
func CheckSource(cfg model.Config, src string) error {
	cn := data.CanonicalName(src)
	isIn := func(list []string) bool {
		for _, s := range list {
			if s == cn {
				return true
			}
		}
		return false
	}
	switch {
	case cfg.Binary() && isIn(colourSources):
		return fmt.Errorf("--data %s reads colour images, but --dataset %s is a Bernoulli model of binarised digits: use --data %s, or a colour --dataset such as cifar10 or celeba_64",
			src, cfg.Dataset, strings.Join(binarySources, ", "))
	case !cfg.Binary() && isIn(binarySources):
		return fmt.Errorf("--data %s reads 28×28 greyscale digits, but --dataset %s models colour images: use --dataset mnist (or omniglot), or a colour source (--data %s)",
			src, cfg.Dataset, strings.Join(colourSources, ", "))
	}
	if n, ok := fixedSize[cn]; ok && n != cfg.ImageSize() {
		return fmt.Errorf("--data %s gives %d×%d images, but --dataset %s models %d×%d ones: use --data folder (resizes) or a --dataset of size %d",
			src, n, n, cfg.Dataset, cfg.ImageSize(), cfg.ImageSize(), n)
	}
	return nil
}

// OpenData opens a split ("train" or "test") of an image source for a model of cfg,
// after CheckSource: folder images are cropped and resized to the model's input size
// and channels.
func OpenData(cfg model.Config, src, dir, split string) (*data.Dataset, error) {
	if err := CheckSource(cfg, src); err != nil {
		return nil, err
	}
	return data.Open(src, dir, split, data.Options{Folder: data.FolderOptions{Size: cfg.ImageSize(), Channels: cfg.ImageChannels()}})
}

// transformFor returns the official preprocessing of ds for a model of cfg: that of
// the source ds was read from (data.Open names it "<source>/<split>": padding and
// binarisation for digit sources, flips for colour ones), else that of cfg.Dataset.
// The bit depth is cfg's num_x_bits.
func transformFor(ds *data.Dataset, cfg model.Config, train bool) (data.Transform, error) {
	src, _, _ := strings.Cut(ds.Name, "/")
	if tr, err := data.OfficialTransform(src, train, cfg.NumXBits); err == nil {
		return tr, nil
	}
	return data.OfficialTransform(cfg.Dataset, train, cfg.NumXBits)
}

// EvalLoader returns a loader over ds with the official test-time preprocessing of
// cfg's dataset (bit depth, binarisation; no flips), in dataset order, every image.
func EvalLoader(ds *data.Dataset, cfg model.Config, batch int, seed uint64) (*data.Loader, error) {
	tr, err := transformFor(ds, cfg, false)
	if err != nil {
		return nil, err
	}
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Seed: seed, Transform: tr})
}
