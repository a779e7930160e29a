package data

import (
	"fmt"
	"slices"
	"strings"
)

// Two flags say what a run reads and what it models, and they have different lists:
// the image source (--data) names a reader of Names; the dataset (--dataset) keeps the
// official train.py meaning and decides the likelihood, input size and bit depth. The
// readers feed two families of datasets.
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

// CheckSource reports whether the image source src (--data) can feed a model of the
// official dataset (--dataset) whose likelihood is Bernoulli when binary and whose
// input is size×size: a binary dataset needs a greyscale digit source and a colour
// dataset a colour source of the model's size. Unknown sources are left to Open.
func CheckSource(src, dataset string, binary bool, size int) error {
	cn := canonicalName(src)
	switch {
	case binary && slices.Contains(colourSources, cn):
		return fmt.Errorf("--data %s reads colour images, but --dataset %s is a Bernoulli model of binarised digits: use --data %s, or a colour --dataset such as cifar10 or celeba_64",
			src, dataset, strings.Join(binarySources, ", "))
	case !binary && slices.Contains(binarySources, cn):
		return fmt.Errorf("--data %s reads 28×28 greyscale digits, but --dataset %s models colour images: use --dataset mnist (or omniglot), or a colour source (--data %s)",
			src, dataset, strings.Join(colourSources, ", "))
	}
	if n, ok := fixedSize[cn]; ok && n != size {
		return fmt.Errorf("--data %s gives %d×%d images, but --dataset %s models %d×%d ones: use --data folder (resizes) or a --dataset of size %d",
			src, n, n, dataset, size, size, n)
	}
	return nil
}

// TransformFor returns the official preprocessing of ds for a model of the official
// dataset: that of the source ds was read from (Open names it "<source>/<split>":
// padding and binarisation for digit sources, flips for colour ones), else that of
// dataset. numBits is the model's num_x_bits.
func TransformFor(ds *Dataset, dataset string, train bool, numBits int) (Transform, error) {
	src, _, _ := strings.Cut(ds.Name, "/")
	if tr, err := OfficialTransform(src, train, numBits); err == nil {
		return tr, nil
	}
	return OfficialTransform(dataset, train, numBits)
}
