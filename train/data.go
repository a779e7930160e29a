package train

import (
	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
)

// OpenData opens a split ("train" or "test") of an image source for a model of cfg:
// folder images are cropped and resized to the model's input size and channels.
func OpenData(cfg model.Config, src, dir, split string) (*data.Dataset, error) {
	return data.Open(src, dir, split, data.Options{Folder: data.FolderOptions{Size: cfg.ImageSize(), Channels: cfg.ImageChannels()}})
}

// EvalLoader returns a loader over ds with the official test-time preprocessing of
// cfg's dataset (bit depth, binarisation; no flips), in dataset order, every image.
func EvalLoader(ds *data.Dataset, cfg model.Config, batch int, seed uint64) (*data.Loader, error) {
	tr, err := data.OfficialTransform(cfg.Dataset, false, cfg.NumXBits)
	if err != nil {
		return nil, err
	}
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Seed: seed, Transform: tr})
}
