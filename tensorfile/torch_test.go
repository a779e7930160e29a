package tensorfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const f1Checkpoint = "testdata/f1_checkpoint.pt"

func TestReadTorchF1(t *testing.T) {
	ck, err := ReadTorch(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ReadSafetensors("testdata/f1_checkpoint_state_dict.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.StateDict) != len(ref.Tensors) || len(ref.Tensors) != 338 {
		t.Fatalf("%d tensors, reference %d (want 338)", len(ck.StateDict), len(ref.Tensors))
	}
	nI64 := 0
	for i, got := range ck.StateDict {
		want := ref.Tensors[i]
		if strings.HasSuffix(want.Name, "num_batches_tracked") {
			want.DType = I64
			nI64++
		}
		sameNamed(t, got, want)
	}
	if nI64 == 0 {
		t.Error("no num_batches_tracked buffers")
	}
	if x, ok := ck.Lookup("stem.weight"); !ok || !slices.Equal(x.Shape, []int{16, 1, 3, 3}) {
		t.Errorf("Lookup(stem.weight) = %v %v", x.Shape, ok)
	}

	// args reproduce the F1 configuration stored with params_init.
	var want map[string]any
	raw, err := os.ReadFile("testdata/f1_args.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(ck.Args) != len(want) || len(ck.ArgNames) != len(want) {
		t.Errorf("%d args (%d names), want %d", len(ck.Args), len(ck.ArgNames), len(want))
	}
	for k, w := range want {
		g, ok := ck.Args[k]
		if !ok {
			t.Errorf("args.%s missing", k)
			continue
		}
		switch w := w.(type) {
		case float64: // JSON numbers: ints must come back as int64, floats as float64
			gf, isF := g.(float64)
			gi, isI := g.(int64)
			if !(isF && gf == w) && !(isI && float64(gi) == w && w == math.Trunc(w)) {
				t.Errorf("args.%s = %v (%T), want %v", k, g, g, w)
			}
		default:
			if g != w {
				t.Errorf("args.%s = %v (%T), want %v", k, g, g, w)
			}
		}
	}
	if n, _ := ck.IntArg("num_latent_scales"); n != 2 {
		t.Errorf("IntArg(num_latent_scales) = %d", n)
	}
	if v, ok := ck.FloatArg("weight_decay_norm"); !ok || v != 0.01 {
		t.Errorf("FloatArg(weight_decay_norm) = %v %v", v, ok)
	}
	if v, ok := ck.FloatArg("num_channels_enc"); !ok || v != 16 {
		t.Errorf("FloatArg(num_channels_enc) = %v %v", v, ok)
	}
	if v, ok := ck.BoolArg("ada_groups"); !ok || !v {
		t.Errorf("BoolArg(ada_groups) = %v %v", v, ok)
	}
	if v, ok := ck.StringArg("dataset"); !ok || v != "mnist" {
		t.Errorf("StringArg(dataset) = %q %v", v, ok)
	}
	if _, ok := ck.IntArg("dataset"); ok {
		t.Error("IntArg(dataset) succeeded")
	}
	if ck.ArgNames[0] != "root" || ck.ArgNames[len(ck.ArgNames)-1] != "distributed" {
		t.Errorf("arg order %v", ck.ArgNames)
	}

	if !ck.HasEpoch || ck.Epoch != 3 || !ck.HasGlobalStep || ck.GlobalStep != 2 {
		t.Errorf("epoch %d (%v), global_step %d (%v)", ck.Epoch, ck.HasEpoch, ck.GlobalStep, ck.HasGlobalStep)
	}
	wantKeys := []string{"epoch", "state_dict", "optimizer", "global_step", "args", "arch_instance", "scheduler", "grad_scalar"}
	if !slices.Equal(ck.Keys, wantKeys) {
		t.Errorf("keys %v", ck.Keys)
	}
	for _, k := range []string{"epoch", "optimizer", "global_step", "arch_instance", "scheduler", "grad_scalar"} {
		if _, ok := ck.Raw[k]; !ok {
			t.Errorf("Raw lacks %q", k)
		}
	}
	arch := ck.Raw["arch_instance"].(map[string]any)
	if ops, _ := arch["normal_dec"].([]any); len(ops) != 1 || ops[0] != "mconv_e6k5g0" {
		t.Errorf("arch_instance.normal_dec = %v", arch["normal_dec"])
	}
	sched := ck.Raw["scheduler"].(map[string]any)
	if sched["T_max"] != 194.0 || sched["last_epoch"] != int64(0) || sched["verbose"] != false {
		t.Errorf("scheduler = %v", sched)
	}
	if gs, ok := ck.Raw["grad_scalar"].(map[string]any); !ok || len(gs) != 0 {
		t.Errorf("grad_scalar = %v", ck.Raw["grad_scalar"])
	}
	// Optimizer: per-parameter state keyed by int, holding tensors.
	opt := ck.Raw["optimizer"].(map[string]any)
	state := opt["state"].(map[any]any)
	if len(state) != 227 {
		t.Errorf("optimizer state for %d parameters, want 227", len(state))
	}
	ps := state[int64(1)].(map[string]any)
	if ea, ok := ps["exp_avg"].(Named); !ok || !slices.Equal(ea.Shape, ck.StateDict[1].Shape) {
		t.Errorf("optimizer state[1].exp_avg = %v", ps["exp_avg"])
	}
	groups := opt["param_groups"].([]any)
	g0 := groups[0].(map[string]any)
	if params := g0["params"].([]any); len(params) != 227 || g0["eps"] != 1e-3 {
		t.Errorf("param group: %d params, eps %v", len(params), g0["eps"])
	}
}

// zipRecords reads every record of a zip archive.
func zipRecords(t testing.TB, data []byte) (names []string, recs map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	recs = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		recs[f.Name] = b
	}
	return names, recs
}

// makeZip writes records, uncompressed as torch.save does, in the given order.
func makeZip(t testing.TB, names []string, recs map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(recs[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadTorchErrors(t *testing.T) {
	orig, err := os.ReadFile(f1Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	names, recs := zipRecords(t, orig)
	without := func(drop string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
	}
	with := func(name string, data []byte) map[string][]byte {
		m := make(map[string][]byte, len(recs))
		for k, v := range recs {
			m[k] = v
		}
		m[name] = data
		return m
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", orig[:len(orig)/2], "corrupt or truncated zip"},
		{"truncated tail", orig[:len(orig)-10], "corrupt or truncated zip"},
		{"not a zip", []byte("this is plainly not a checkpoint at all"), "not a zip archive"},
		{"legacy", []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8}, "legacy"},
		{"no pickle", makeZip(t, without("checkpoint/data.pkl"), recs), "no data.pkl"},
		{"missing storage", makeZip(t, without("checkpoint/data/0"), recs), "missing storage record checkpoint/data/0"},
		{"short storage", makeZip(t, names, with("checkpoint/data/0", recs["checkpoint/data/0"][:100])), "holds 100 bytes, want 16384"},
		{"garbage pickle", makeZip(t, names, with("checkpoint/data.pkl", []byte("\x80\x02garbage"))), "unpickling"},
		{"cut pickle", makeZip(t, names, with("checkpoint/data.pkl", recs["checkpoint/data.pkl"][:5000])), "unpickling"},
		{"bad byteorder", makeZip(t, append(slices.Clone(names), "checkpoint/byteorder"), with("checkpoint/byteorder", []byte("middle"))), "byte order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTorchBytes("ck.pt", tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); !strings.Contains(msg, "ck.pt") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q: want the name and %q", msg, tc.want)
			}
		})
	}
	// Corrupted storage bytes are caught by the zip CRC.
	bad := slices.Clone(orig)
	i := bytes.Index(bad, recs["checkpoint/data/0"][:64])
	if i < 0 {
		t.Fatal("storage 0 not found uncompressed")
	}
	bad[i+10] ^= 0xff
	if _, err := ReadTorchBytes("ck.pt", bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("flipped storage byte: error %v", err)
	}
	// Through the file system: the path is named; a missing file is reported.
	path := filepath.Join(t.TempDir(), "trunc.pt")
	if err := os.WriteFile(path, orig[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTorch(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadTorch(truncated) error %v", err)
	}
	if _, err := ReadTorch(path + ".missing"); err == nil {
		t.Error("ReadTorch(missing): no error")
	}
}

// pickler emits protocol-2 pickle opcodes, enough to build torch.save-like data.
type pickler struct{ bytes.Buffer }

func (p *pickler) op(b ...byte) *pickler { p.Write(b); return p }
func (p *pickler) str(s string) *pickler {
	p.WriteByte('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
	return p
}
func (p *pickler) int(n int) *pickler {
	p.WriteByte('J')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(n))))
	return p
}
func (p *pickler) float(f float64) *pickler {
	p.WriteByte('G')
	p.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
	return p
}
func (p *pickler) global(module, name string) *pickler {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}
func (p *pickler) ints(v ...int) *pickler {
	p.op('(')
	for _, n := range v {
		p.int(n)
	}
	return p.op('t')
}

// tensor emits _rebuild_tensor_v2(storage(class, key, numel), offset, size, stride, False, OrderedDict()).
func (p *pickler) tensor(class, key string, numel, offset int, size, stride []int) *pickler {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", class).str(key).str("cuda:0").int(numel).op('t', 'Q')
	p.int(offset).ints(size...).ints(stride...).op(0x89)
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

func float32LE(v ...float32) []byte { return f32Bytes(v...) }

func TestReadTorchSynthetic(t *testing.T) {
	var p pickler
	p.op(0x80, 2, '}', '(')
	p.str("state_dict").global("collections", "OrderedDict").op(')', 'R', '(')
	// A transposed view: storage [[0 1 2] [3 4 5]] read as its 3×2 transpose.
	p.str("t").tensor("FloatStorage", "0", 6, 0, []int{3, 2}, []int{1, 3})
	// An offset view into the same storage, and a contiguous slice with offset.
	p.str("row1").tensor("FloatStorage", "0", 6, 3, []int{3}, []int{1})
	p.str("col2").tensor("FloatStorage", "0", 6, 2, []int{2, 1}, []int{3, 1})
	p.str("bcast").tensor("FloatStorage", "0", 6, 1, []int{2, 2}, []int{0, 3})
	p.str("half").tensor("HalfStorage", "1", 2, 0, []int{2}, []int{1})
	p.str("bf16").tensor("BFloat16Storage", "2", 1, 0, []int{}, []int{})
	p.str("n").tensor("LongStorage", "3", 1, 0, []int{}, []int{})
	p.str("empty").tensor("FloatStorage", "4", 0, 0, []int{0, 4}, []int{4, 1})
	// A Parameter wrapper.
	p.str("param").global("torch._utils", "_rebuild_parameter").op('(')
	p.tensor("DoubleStorage", "5", 2, 0, []int{2}, []int{1}).op(0x88)
	p.global("collections", "OrderedDict").op(')', 'R', 't', 'R')
	p.str("not_a_tensor").int(5)
	p.op('u')
	// args as an argparse.Namespace with assorted values.
	p.str("args").global("argparse", "Namespace").op(')', 0x81, '}', '(')
	p.str("lr").float(0.5).str("n").int(-3).str("flag").op(0x88).str("none").op('N')
	p.str("list").op(']', '(').int(1).str("a").op('e')
	p.str("tuple").op('(').float(1).float(2).op('t')
	p.op('u', 'b')
	// An unknown class with state, a set, bytes and a global.
	p.str("optimizer").global("some.module", "Thing").op('(').int(1).op('t', 'R', '}', '(').str("k").int(2).op('u', 'b')
	p.str("set").global("builtins", "set").op(']', '(').int(1).int(2).op('e').op(0x85, 'R')
	p.str("bytes").global("_codecs", "encode").str("ab\u00ff").str("latin1").op(0x86, 'R')
	p.str("dd").global("collections", "defaultdict").global("builtins", "dict").op(0x85, 'R', '(').int(7).str("x").op('u')
	p.str("epoch").int(11).str("global_step").int(1234)
	p.op('u', '.')

	recs := map[string][]byte{
		"archive/data.pkl": p.Bytes(),
		"archive/data/0":   float32LE(0, 1, 2, 3, 4, 5),
		"archive/data/1":   {0x00, 0x3c, 0x00, 0xc0}, // F16 1, -2
		"archive/data/2":   {0x40, 0x40},             // BF16 3
		"archive/data/3":   binary.LittleEndian.AppendUint64(nil, 42),
		"archive/data/4":   {},
		"archive/data/5":   binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.25)), math.Float64bits(-8)),
		"archive/version":  []byte("3\n"),
	}
	names := []string{"archive/data.pkl", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3", "archive/data/4", "archive/data/5", "archive/version"}
	ck, err := ReadTorchBytes("synthetic", makeZip(t, names, recs))
	if err != nil {
		t.Fatal(err)
	}
	want := []Named{
		{Name: "t", Shape: []int{3, 2}, DType: F32, Data: []float32{0, 3, 1, 4, 2, 5}},
		{Name: "row1", Shape: []int{3}, DType: F32, Data: []float32{3, 4, 5}},
		{Name: "col2", Shape: []int{2, 1}, DType: F32, Data: []float32{2, 5}},
		{Name: "bcast", Shape: []int{2, 2}, DType: F32, Data: []float32{1, 4, 1, 4}},
		{Name: "half", Shape: []int{2}, DType: F16, Data: []float32{1, -2}},
		{Name: "bf16", Shape: []int{}, DType: BF16, Data: []float32{3}},
		{Name: "n", Shape: []int{}, DType: I64, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 4}, DType: F32, Data: []float32{}},
		{Name: "param", Shape: []int{2}, DType: F64, Data: []float32{0.25, -8}},
	}
	if len(ck.StateDict) != len(want) {
		t.Fatalf("%d tensors, want %d", len(ck.StateDict), len(want))
	}
	for i := range want {
		sameNamed(t, ck.StateDict[i], want[i])
	}
	if !slices.Equal(ck.ArgNames, []string{"lr", "n", "flag", "none", "list", "tuple"}) {
		t.Errorf("arg names %v", ck.ArgNames)
	}
	a := ck.Args
	if a["lr"] != 0.5 || a["n"] != int64(-3) || a["flag"] != true || a["none"] != nil {
		t.Errorf("args %v", a)
	}
	if l, _ := a["list"].([]any); !slices.Equal(l, []any{int64(1), "a"}) {
		t.Errorf("args.list = %v", a["list"])
	}
	if l, _ := a["tuple"].([]any); !slices.Equal(l, []any{1.0, 2.0}) {
		t.Errorf("args.tuple = %v", a["tuple"])
	}
	obj, ok := ck.Raw["optimizer"].(*PyObject)
	if !ok || obj.Class != "some.module.Thing" || !slices.Equal(obj.Args, []any{int64(1)}) {
		t.Fatalf("optimizer = %#v", ck.Raw["optimizer"])
	}
	if st, _ := obj.State.(map[string]any); st["k"] != int64(2) {
		t.Errorf("optimizer state %v", obj.State)
	}
	if s, _ := ck.Raw["set"].([]any); len(s) != 2 {
		t.Errorf("set = %v", ck.Raw["set"])
	}
	if b, _ := ck.Raw["bytes"].([]byte); !bytes.Equal(b, []byte{'a', 'b', 0xff}) {
		t.Errorf("bytes = %v", ck.Raw["bytes"])
	}
	if dd, _ := ck.Raw["dd"].(map[any]any); dd[int64(7)] != "x" {
		t.Errorf("defaultdict = %#v", ck.Raw["dd"])
	}
	if ck.Epoch != 11 || ck.GlobalStep != 1234 {
		t.Errorf("epoch %d step %d", ck.Epoch, ck.GlobalStep)
	}

	// Big-endian archives (byteorder record) are byte-swapped.
	recs["archive/byteorder"] = []byte("big")
	recs["archive/data/0"] = binary.BigEndian.AppendUint32(nil, math.Float32bits(0))
	for _, v := range []float32{1, 2, 3, 4, 5} {
		recs["archive/data/0"] = binary.BigEndian.AppendUint32(recs["archive/data/0"], math.Float32bits(v))
	}
	recs["archive/data/1"] = []byte{0x3c, 0x00, 0xc0, 0x00}
	recs["archive/data/2"] = []byte{0x40, 0x40}
	recs["archive/data/3"] = binary.BigEndian.AppendUint64(nil, 42)
	recs["archive/data/5"] = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, math.Float64bits(0.25)), math.Float64bits(-8))
	ck, err = ReadTorchBytes("big", makeZip(t, append(names, "archive/byteorder"), recs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		sameNamed(t, ck.StateDict[i], want[i])
	}
}

func TestReadTorchBareStateDictAndBadViews(t *testing.T) {
	build := func(offset int, size, stride []int) []byte {
		var p pickler
		p.op(0x80, 2).global("collections", "OrderedDict").op(')', 'R', '(')
		p.str("w").tensor("FloatStorage", "0", 4, offset, size, stride)
		p.op('u', '.')
		return makeZip(t, []string{"m/data.pkl", "m/data/0"}, map[string][]byte{
			"m/data.pkl": p.Bytes(), "m/data/0": float32LE(1, 2, 3, 4),
		})
	}
	ck, err := ReadTorchBytes("bare", build(0, []int{2, 2}, []int{2, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.StateDict) != 1 || !slices.Equal(ck.StateDict[0].Data, []float32{1, 2, 3, 4}) || ck.Args != nil {
		t.Fatalf("bare state dict: %+v", ck)
	}
	bad := []struct {
		name         string
		offset       int
		size, stride []int
		want         string
	}{
		{"beyond storage", 1, []int{2, 2}, []int{2, 1}, "exceeds storage"},
		{"offset", 4, []int{1}, []int{1}, "outside storage"},
		{"negative stride", 3, []int{2}, []int{-1}, "negative stride"},
		{"huge stride", 0, []int{2}, []int{1000}, "exceeds storage"},
		{"rank", 0, []int{2}, []int{1, 1}, "differ in rank"},
		{"negative size", 0, []int{-1}, []int{1}, "negative size"},
		{"huge size", 0, []int{1 << 30, 1 << 30}, []int{0, 0}, "more than"},
		{"overflowing view", 0, []int{1 << 30, 2}, []int{3, 1}, "exceeds storage"},
	}
	for _, tc := range bad {
		_, err := ReadTorchBytes("bad", build(tc.offset, tc.size, tc.stride))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
