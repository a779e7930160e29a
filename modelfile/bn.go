package modelfile

import (
	"fmt"
	"strconv"
)

// MetaBNTemp is the metadata entry that records the latent temperature at which the
// decoder's batch-norm statistics were re-adjusted (sample --readjust_bn --save_bn):
// those statistics fit sampling at that temperature only.
const MetaBNTemp = "bn_temp"

// SetBNTemperature records in meta that the stored BN statistics were re-adjusted at
// temperature t.
func SetBNTemperature(meta map[string]string, t float64) {
	meta[MetaBNTemp] = strconv.FormatFloat(t, 'g', -1, 64)
}

// BNTemperature returns the temperature the file's BN statistics were re-adjusted at,
// and false when they were not (a training run's statistics). Files written before
// MetaBNTemp existed are read from their "bn_readjusted" entry ("temp=T iters=…").
func (f *File) BNTemperature() (float64, bool) {
	if f == nil {
		return 0, false
	}
	if s, ok := f.Metadata[MetaBNTemp]; ok {
		t, err := strconv.ParseFloat(s, 64)
		return t, err == nil
	}
	if s, ok := f.Metadata["bn_readjusted"]; ok {
		var t float64
		if _, err := fmt.Sscanf(s, "temp=%g", &t); err == nil {
			return t, true
		}
	}
	return 0, false
}
