package modelfile

import (
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensorfile"
)

// f1Checkpoint is a checkpoint.pt written by the official train.py (F1 configuration, two
// training steps); the tensorfile tests read the same file.
const f1Checkpoint = "../tensorfile/testdata/f1_checkpoint.pt"

// TestOfficialCheckpoint loads a checkpoint written by the official train.py (F1 configuration,
// two training steps): the config comes from its argparse namespace, the state dict (with
// aliases and int64 counters) loads strictly, and StateDict reproduces it key by key.
func TestOfficialCheckpoint(t *testing.T) {
	ck, err := tensorfile.ReadTorch(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ConfigFromArgs(ck.Args)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := model.Preset("tiny_mnist")
	if cfg.NumChannelsEnc != want.NumChannelsEnc || cfg.NumLatentScales != 2 || !cfg.AdaGroups || cfg.NumLatentPerGroup != 4 ||
		cfg.NumPreprocessCells != 2 || !cfg.UseSE || !cfg.ResDist || cfg.Dataset != "mnist" {
		t.Fatalf("config from checkpoint args: %+v", cfg)
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadStateDict(ModelTensors(ck.StateDict)); err != nil {
		t.Fatal(err)
	}
	got := m.StateDict()
	if len(got) != len(ck.StateDict) {
		t.Fatalf("%d entries, checkpoint has %d", len(got), len(ck.StateDict))
	}
	for i, w := range ck.StateDict {
		g := got[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Data, w.Data) {
			t.Fatalf("entry %d: got %s %v, checkpoint %s %v (or data differ)", i, g.Name, g.Shape, w.Name, w.Shape)
		}
		if (w.DType == tensorfile.I64) != g.Int {
			t.Errorf("%s: Int %v, checkpoint dtype %s", w.Name, g.Int, w.DType)
		}
	}
}

// TestFromTorchRejectsMismatches: a checkpoint whose args disagree with its tensors, or
// whose alias keys differ from their twins, fails with an error naming the keys.
func TestFromTorchRejectsMismatches(t *testing.T) {
	ck, err := tensorfile.ReadTorch(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromTorch(ck); err != nil {
		t.Fatalf("the unmodified checkpoint: %v", err)
	}
	ck.Args["num_channels_enc"] = int64(32)
	_, err = FromTorch(ck)
	if err == nil || !strings.Contains(err.Error(), "stem.weight: shape") {
		t.Fatalf("config disagreeing with the tensors: err = %v", err)
	}
	ck.Args["num_channels_enc"] = int64(16)
	found := false
	for i := range ck.StateDict {
		if strings.HasSuffix(ck.StateDict[i].Name, ".weight_normalized") {
			ck.StateDict[i].Data = append([]float32(nil), ck.StateDict[i].Data...)
			ck.StateDict[i].Data[0] += 1
			name := ck.StateDict[i].Name
			_, err = FromTorch(ck)
			if err == nil || !strings.Contains(err.Error(), name+" differs from its twin") {
				t.Fatalf("inconsistent alias: err = %v", err)
			}
			found = true
			break
		}
	}
	if !found {
		t.Fatal("the checkpoint has no weight_normalized alias to test")
	}
	ck.Args = nil
	if _, err := FromTorch(ck); err == nil {
		t.Fatal("checkpoint without args accepted")
	}
}
