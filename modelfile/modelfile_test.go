package modelfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/tensorfile"
)

func tinyModel(t *testing.T, seed uint64) *model.Model {
	t.Helper()
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTensors(t *testing.T, what string, got, want []model.NamedTensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Data, w.Data) || g.Int != w.Int {
			t.Fatalf("%s: entry %d is %s %v (int %v), want %s %v (int %v), or the data differ", what, i, g.Name, g.Shape, g.Int, w.Name, w.Shape, w.Int)
		}
	}
}

// TestSaveReadLoad: a saved model reads back with its configuration, state dict
// (counters as integers), extras and metadata, and Load rebuilds it from the file or
// its run directory.
func TestSaveReadLoad(t *testing.T) {
	m := tinyModel(t, 3)
	m.BatchNorms()[0].NumBatches = 7
	dir := t.TempDir()
	path := filepath.Join(dir, RunFile)
	extra := []model.NamedTensor{
		{Name: "adamax.exp_avg.x", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "spectral.0.u", Shape: []int{1, 3}, Data: []float32{3, 4, 5}},
	}
	meta := map[string]string{"note": "hello", "config": "stale", "format": "old"}
	if err := Save(path, m, extra, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Config, m.Cfg) {
		t.Errorf("config read back as %+v, want %+v", f.Config, m.Cfg)
	}
	sameTensors(t, "state", f.State, m.StateDict())
	sameTensors(t, "extra", f.Extra, extra)
	if f.Path != path || f.Metadata["note"] != "hello" || f.Metadata["format"] != formatTag || f.Metadata["config"] == "stale" {
		t.Errorf("path %q, metadata %v", f.Path, f.Metadata)
	}
	// The file itself stores the counters as int64, readable by any safetensors reader.
	raw, err := tensorfile.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range raw.Tensors {
		if want := strings.HasSuffix(e.Name, ".num_batches_tracked"); (e.DType == tensorfile.I64) != want {
			t.Fatalf("%s stored as %s", e.Name, e.DType)
		}
	}
	for _, p := range []string{path, dir} {
		back, f2, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		if f2 == nil || f2.Path != path {
			t.Fatalf("Load(%s): file %+v", p, f2)
		}
		sameTensors(t, "loaded model "+p, back.StateDict(), m.StateDict())
		// LoadWeights: the same model, no extras
		w, fw, err := LoadWeights(p)
		if err != nil {
			t.Fatalf("LoadWeights(%s): %v", p, err)
		}
		if fw == nil || len(fw.Extra) != 0 || len(fw.State) != len(f.State) || fw.Metadata["note"] != "hello" {
			t.Fatalf("LoadWeights(%s): file with %d extras, %d state tensors, metadata %v", p, len(fw.Extra), len(fw.State), fw.Metadata)
		}
		sameTensors(t, "weights-only model "+p, w.StateDict(), m.StateDict())
	}
}

// TestSaveErrors: extras outside ExtraPrefixes are refused before anything is written,
// and an unwritable path is reported.
func TestSaveErrors(t *testing.T) {
	m := tinyModel(t, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	err := Save(path, m, []model.NamedTensor{{Name: "foo", Shape: []int{1}, Data: []float32{0}}}, nil)
	if err == nil || !strings.Contains(err.Error(), `"foo"`) {
		t.Fatalf("unprefixed extra: err = %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a refused save wrote the file")
	}
	if err := Save(filepath.Join(dir, "no", "such", "m.safetensors"), m, nil, nil); err == nil {
		t.Fatal("save into a missing directory: no error")
	}
}

// TestReadLoadErrors: files that are not model files, or do not fit their
// configuration, fail with errors naming the file and the problem.
func TestReadLoadErrors(t *testing.T) {
	dir := t.TempDir()
	m := tinyModel(t, 1)
	noConfig := filepath.Join(dir, "plain.safetensors")
	if err := tensorfile.WriteSafetensors(noConfig, FileTensors(m.StateDict()), nil); err != nil {
		t.Fatal(err)
	}
	unexpected := filepath.Join(dir, "unexpected.safetensors")
	ts := append(m.StateDict(), model.NamedTensor{Name: "foo.weight", Shape: []int{1}, Data: []float32{0}})
	if err := tensorfile.WriteSafetensors(unexpected, FileTensors(ts), map[string]string{"config": mustConfig(t, m)}); err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(dir, "badconfig.safetensors")
	if err := tensorfile.WriteSafetensors(badConfig, FileTensors(m.StateDict()), map[string]string{"config": `{"no_such_field": 1}`}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
	}{
		{noConfig, "no model configuration"},
		{unexpected, "unexpected foo.weight"},
		{badConfig, "reading the configuration"},
		{filepath.Join(dir, "missing.safetensors"), "missing.safetensors"},
		{t.TempDir(), RunFile},
	} {
		_, _, err := Load(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): err = %v, want one mentioning %q", c.path, err, c.want)
		}
	}
}

func mustConfig(t *testing.T, m *model.Model) string {
	t.Helper()
	b, err := json.Marshal(m.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestResolve: a run directory resolves to its RunFile, a file to itself.
func TestResolve(t *testing.T) {
	run, empty := t.TempDir(), t.TempDir()
	file := filepath.Join(run, RunFile)
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, want, wantErr string
	}{
		{run, file, ""},
		{file, file, ""},
		{empty, "", "has no " + RunFile},
		{filepath.Join(empty, "nope"), "", "nope"},
	} {
		got, err := Resolve(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Resolve(%s): %q, err = %v, want an error mentioning %q", c.in, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestLoadTorch: Load reads NVIDIA's checkpoint.pt by extension or by its zip
// signature, with no File, and the model holds the checkpoint's state dict.
func TestLoadTorch(t *testing.T) {
	b, err := os.ReadFile(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(t.TempDir(), "weights.bin") // no .pt extension: found by signature
	if err := os.WriteFile(renamed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err := tensorfile.ReadTorch(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f1Checkpoint, renamed} {
		m, f, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		if f != nil {
			t.Errorf("Load(%s): a File for a .pt checkpoint", p)
		}
		sameTensors(t, p, m.StateDict(), ModelTensors(ck.StateDict))
	}
}

// TestTensorConversion: integer dtypes become Int entries and Int entries are stored
// as I64; data is shared.
func TestTensorConversion(t *testing.T) {
	for _, c := range []struct {
		dtype string
		isInt bool
	}{
		{tensorfile.F32, false}, {tensorfile.F16, false}, {tensorfile.BF16, false}, {tensorfile.F64, false}, {"", false},
		{tensorfile.I64, true}, {tensorfile.I32, true}, {tensorfile.I16, true}, {tensorfile.I8, true}, {tensorfile.U8, true}, {tensorfile.BOOL, true},
	} {
		data := []float32{1, 0}
		mt := ModelTensors([]tensorfile.Named{{Name: "a", Shape: []int{2}, DType: c.dtype, Data: data}})
		if mt[0].Int != c.isInt || &mt[0].Data[0] != &data[0] || mt[0].Name != "a" || !slices.Equal(mt[0].Shape, []int{2}) {
			t.Errorf("%q: %+v", c.dtype, mt[0])
		}
		back := FileTensors(mt)
		want := tensorfile.F32
		if c.isInt {
			want = tensorfile.I64
		}
		if back[0].DType != want || &back[0].Data[0] != &data[0] {
			t.Errorf("%q: stored as %s, want %s", c.dtype, back[0].DType, want)
		}
	}
}
