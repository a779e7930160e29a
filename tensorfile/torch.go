package tensorfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/nvae-go/nvae/internal/picklescan"
)

// TorchFile is the content of a checkpoint written by torch.save (the zip
// format of PyTorch ≥ 1.6), such as the ones the official NVAE train.py writes:
// a dict with the keys epoch, state_dict, optimizer, global_step, args,
// arch_instance, scheduler and grad_scalar.
//
// Python values are converted to Go values as follows: None → nil, bool → bool,
// int → int64 (*big.Int beyond 64 bits), float → float64, str → string, bytes →
// []byte, list/tuple/set → []any, dict/OrderedDict → map[string]any when every
// key is a string and map[any]any otherwise (int keys as int64), tensor → Named
// (with an empty Name), argparse.Namespace → map[string]any of its attributes,
// any other object → *PyObject.
type TorchFile struct {
	// StateDict holds the tensors of the "state_dict" entry in pickle (that is,
	// state_dict) order, converted to float32; DType keeps the stored type (I64
	// for num_batches_tracked). Non-tensor entries are skipped. When the
	// top-level object is itself a dict of tensors, it is the state dict.
	StateDict []Named
	// Args holds the attributes of the "args" entry (an argparse.Namespace or a
	// dict); ArgNames lists them in pickle order. Nil when absent.
	Args     map[string]any
	ArgNames []string
	// Epoch and GlobalStep are the "epoch" and "global_step" entries; HasEpoch
	// and HasGlobalStep tell whether they were present (as integers).
	Epoch, GlobalStep       int64
	HasEpoch, HasGlobalStep bool
	// Keys lists the top-level keys in pickle order.
	Keys []string
	// Raw holds every top-level entry except state_dict and args, converted as
	// described above (optimizer, scheduler, grad_scalar, arch_instance, epoch...).
	Raw map[string]any
}

// Lookup returns the state-dict tensor with the given name.
func (c *TorchFile) Lookup(name string) (Named, bool) {
	for _, t := range c.StateDict {
		if t.Name == name {
			return t, true
		}
	}
	return Named{}, false
}

// IntArg returns Args[name] when it is an integer (a bool counts as 0/1).
func (c *TorchFile) IntArg(name string) (int64, bool) {
	switch v := c.Args[name].(type) {
	case int64:
		return v, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// FloatArg returns Args[name] when it is a number.
func (c *TorchFile) FloatArg(name string) (float64, bool) {
	switch v := c.Args[name].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// BoolArg returns Args[name] when it is a bool.
func (c *TorchFile) BoolArg(name string) (bool, bool) {
	v, ok := c.Args[name].(bool)
	return v, ok
}

// StringArg returns Args[name] when it is a string.
func (c *TorchFile) StringArg(name string) (string, bool) {
	v, ok := c.Args[name].(string)
	return v, ok
}

// ReadTorch reads a checkpoint written by torch.save in the zip format. Storages
// may carry any location tag (such as "cuda:0"); their bytes are read as they
// are. The legacy (pre-1.6, non-zip) format and TorchScript archives are not
// supported.
func ReadTorch(path string) (*TorchFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint: %w", err)
	}
	ck, err := readTorch(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint %s: %w", path, err)
	}
	return ck, nil
}

// ReadTorchBytes is ReadTorch for a checkpoint held in memory; name is used in
// error messages only.
func ReadTorchBytes(name string, data []byte) (*TorchFile, error) {
	ck, err := readTorch(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint %s: %w", name, err)
	}
	return ck, nil
}

// storageDTypes maps the legacy typed-storage classes that torch.save pickles to
// element types. UntypedStorage counts bytes; its tensors name their dtype.
var storageDTypes = map[string]string{
	"FloatStorage": F32, "DoubleStorage": F64, "HalfStorage": F16, "BFloat16Storage": BF16,
	"LongStorage": I64, "IntStorage": I32, "ShortStorage": I16, "CharStorage": I8,
	"ByteStorage": U8, "BoolStorage": BOOL, "UntypedStorage": U8,
}

// torchDTypes maps torch dtype names (pickled as globals "torch.<name>").
var torchDTypes = map[string]string{
	"float32": F32, "float": F32, "float64": F64, "double": F64, "float16": F16, "half": F16,
	"bfloat16": BF16, "int64": I64, "long": I64, "int32": I32, "int": I32, "int16": I16,
	"short": I16, "int8": I8, "uint8": U8, "bool": BOOL,
}

// storageClass is a torch storage class global (torch.FloatStorage, ...). dtype
// is empty for storage classes whose elements this package cannot convert.
type storageClass struct{ name, dtype string }

// dtypeToken is a torch dtype global such as torch.float32.
type dtypeToken struct{ name, dtype string }

// storageRef is a storage named by a persistent id: the zip record data/<key>
// holding numel elements of the class's dtype.
type storageRef struct {
	class    *storageClass
	key      string
	location string
	numel    int
}

// torchTensor is a tensor rebuilt by torch._utils._rebuild_tensor_v2: a strided
// view into a storage. dtype overrides the storage's (for untyped storages).
type torchTensor struct {
	st     *storageRef
	offset int
	size   []int
	stride []int
	dtype  string
}

// torchReader holds the zip records of one archive while it is decoded.
type torchReader struct {
	records  map[string]*zip.File
	prefix   string // archive folder, such as "checkpoint/"
	order    binary.ByteOrder
	storages map[string]*storageRef
	bytes    map[string][]byte
}

func readTorch(ra io.ReaderAt, size int64) (ck *TorchFile, err error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, describeNonZip(ra, size, err)
	}
	r := &torchReader{
		records:  make(map[string]*zip.File, len(zr.File)),
		order:    binary.LittleEndian,
		storages: map[string]*storageRef{},
		bytes:    map[string][]byte{},
	}
	var pkl *zip.File
	for _, f := range zr.File {
		r.records[f.Name] = f
		if path.Base(f.Name) != "data.pkl" || strings.Count(f.Name, "/") > 1 {
			continue
		}
		if pkl == nil || len(f.Name) < len(pkl.Name) {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("no data.pkl record in the zip archive (not a torch.save checkpoint)")
	}
	r.prefix = strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := r.records[r.prefix+"byteorder"]; ok {
		b, err := readRecord(bo)
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			r.order = binary.BigEndian
		default:
			return nil, fmt.Errorf("record %s: unknown byte order %q", bo.Name, b)
		}
	}
	data, err := readRecord(pkl)
	if err != nil {
		return nil, err
	}

	// gopickle allocates a length-prefixed argument before reading it: check every
	// length against the record's size first.
	if err := picklescan.Check(data); err != nil {
		return nil, fmt.Errorf("%s: unpickling: %w", pkl.Name, err)
	}
	// gopickle may panic on malformed input; report that as an error.
	defer func() {
		if p := recover(); p != nil {
			ck, err = nil, fmt.Errorf("malformed checkpoint: %v", p)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = r.findClass
	u.PersistentLoad = r.persistentLoad
	obj, err := u.Load()
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("pickle ends before its STOP opcode: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: unpickling: %w", pkl.Name, err)
	}
	return r.interpret(obj)
}

// describeNonZip explains why an input is not a readable zip archive.
func describeNonZip(ra io.ReaderAt, size int64, zerr error) error {
	var head [4]byte
	n, _ := ra.ReadAt(head[:], 0)
	switch {
	case size == 0:
		return errors.New("empty file")
	case n >= 2 && head[0] == 0x80 && head[1] <= 5:
		return errors.New("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a newer torch")
	case n >= 4 && string(head[:2]) == "PK":
		return fmt.Errorf("corrupt or truncated zip archive: %w", zerr)
	}
	return fmt.Errorf("not a zip archive (torch.save writes zip archives): %w", zerr)
}

// readRecord reads a whole zip record, checking its CRC.
func readRecord(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	return b, nil
}

func (r *torchReader) findClass(module, name string) (any, error) {
	switch module {
	case "torch._utils":
		switch name {
		case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3":
			return callFunc(rebuildTensor(name == "_rebuild_tensor_v3")), nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return callFunc(func(args ...any) (any, error) {
				if len(args) == 0 {
					return nil, fmt.Errorf("%s: no arguments", name)
				}
				return args[0], nil
			}), nil
		}
	case "torch":
		if strings.HasSuffix(name, "Storage") {
			return &storageClass{name: name, dtype: storageDTypes[name]}, nil
		}
		if dt, ok := torchDTypes[name]; ok {
			return dtypeToken{name: name, dtype: dt}, nil
		}
	case "builtins", "__builtin__":
		switch name {
		case "set", "frozenset", "list", "tuple":
			return callFunc(func(args ...any) (any, error) {
				if len(args) == 0 {
					return types.NewList(), nil
				}
				switch x := args[0].(type) {
				case *types.List:
					return x, nil
				case *types.Tuple:
					return types.NewListFromSlice(*x), nil
				}
				return nil, fmt.Errorf("%s(%T) is not supported", name, args[0])
			}), nil
		}
	case "_codecs":
		if name == "encode" {
			// Protocol 2 pickles bytes as _codecs.encode(str, "latin1").
			return callFunc(func(args ...any) (any, error) {
				if len(args) < 1 {
					return nil, errors.New("_codecs.encode: no arguments")
				}
				s, ok := args[0].(string)
				if !ok {
					return nil, errors.New("_codecs.encode: expected a string")
				}
				b := make([]byte, 0, len(s))
				for _, c := range s {
					b = append(b, byte(c))
				}
				return b, nil
			}), nil
		}
	}
	return &pyClass{module: module, name: name}, nil
}

// persistentLoad resolves ("storage", class, key, location, numel).
func (r *torchReader) persistentLoad(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("persistent id %v: expected a 5-tuple", id)
	}
	if kind, _ := t.Get(0).(string); kind != "storage" {
		return nil, fmt.Errorf("persistent id %v: unknown kind %v", id, t.Get(0))
	}
	cls, ok1 := t.Get(1).(*storageClass)
	key, ok2 := t.Get(2).(string)
	loc, ok3 := t.Get(3).(string)
	numel, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || numel < 0 {
		return nil, fmt.Errorf("persistent id %v: unexpected field types", id)
	}
	if s, ok := r.storages[key]; ok {
		return s, nil
	}
	s := &storageRef{class: cls, key: key, location: loc, numel: numel}
	r.storages[key] = s
	return s, nil
}

// rebuildTensor implements torch._utils._rebuild_tensor{,_v2,_v3}:
// (storage, offset, size, stride[, requires_grad, hooks[, dtype]][, metadata]).
func rebuildTensor(v3 bool) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		if len(args) < 4 {
			return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want at least 4", len(args))
		}
		st, ok := args[0].(*storageRef)
		if !ok {
			return nil, fmt.Errorf("_rebuild_tensor: first argument is %T, not a storage", args[0])
		}
		offset, ok := args[1].(int)
		if !ok {
			return nil, fmt.Errorf("_rebuild_tensor: storage offset is %T, not an int", args[1])
		}
		size, err := intTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("_rebuild_tensor: size: %w", err)
		}
		stride, err := intTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("_rebuild_tensor: stride: %w", err)
		}
		t := &torchTensor{st: st, offset: offset, size: size, stride: stride, dtype: st.class.dtype}
		if v3 {
			if len(args) < 7 {
				return nil, errors.New("_rebuild_tensor_v3: missing dtype argument")
			}
			dt, ok := args[6].(dtypeToken)
			if !ok {
				return nil, fmt.Errorf("_rebuild_tensor_v3: unsupported dtype %v", args[6])
			}
			t.dtype = dt.dtype
		}
		return t, nil
	}
}

func intTuple(v any) ([]int, error) {
	var s []any
	switch x := v.(type) {
	case *types.Tuple:
		s = *x
	case *types.List:
		s = *x
	default:
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int, len(s))
	for i, e := range s {
		n, ok := e.(int)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, not an int", i, e)
		}
		out[i] = n
	}
	return out, nil
}

// storageData returns the bytes of a storage record, read once.
func (r *torchReader) storageData(s *storageRef) ([]byte, error) {
	if b, ok := r.bytes[s.key]; ok {
		return b, nil
	}
	name := r.prefix + "data/" + s.key
	f, ok := r.records[name]
	if !ok {
		return nil, fmt.Errorf("missing storage record %s", name)
	}
	b, err := readRecord(f)
	if err != nil {
		return nil, err
	}
	r.bytes[s.key] = b
	return b, nil
}

// maxTensorElems bounds the element count of one tensor (a guard against
// corrupt sizes; a broadcast view may hold more elements than its storage).
const maxTensorElems int64 = 1 << 36

// decodeTensor gathers a tensor's elements from its storage into a Named.
func (r *torchReader) decodeTensor(t *torchTensor) (Named, error) {
	dt := t.dtype
	esz := dtypeSize(dt)
	if esz == 0 {
		return Named{}, fmt.Errorf("unsupported storage type torch.%s", t.st.class.name)
	}
	if len(t.size) != len(t.stride) {
		return Named{}, fmt.Errorf("size %v and stride %v differ in rank", t.size, t.stride)
	}
	raw, err := r.storageData(t.st)
	if err != nil {
		return Named{}, err
	}
	// The storage holds numel elements (bytes, for an untyped storage).
	avail := t.st.numel
	if t.st.class.dtype != dt {
		avail = t.st.numel * dtypeSize(t.st.class.dtype) / esz
	}
	if len(raw) < avail*esz {
		return Named{}, fmt.Errorf("storage record %sdata/%s holds %d bytes, want %d (%d × %s)",
			r.prefix, t.st.key, len(raw), avail*esz, avail, dt)
	}
	numel := 1
	for _, d := range t.size {
		if d < 0 {
			return Named{}, fmt.Errorf("negative size %v", t.size)
		}
		if d > 0 && int64(numel) > maxTensorElems/int64(d) {
			return Named{}, fmt.Errorf("size %v has more than %d elements", t.size, maxTensorElems)
		}
		numel *= d
	}
	out := Named{Shape: append([]int{}, t.size...), DType: dt, Data: make([]float32, 0)}
	if numel == 0 {
		return out, nil
	}
	// Highest element index the view touches; it must lie inside the storage.
	if t.offset < 0 || t.offset >= avail {
		return Named{}, fmt.Errorf("storage offset %d outside storage %s of %d elements", t.offset, t.st.key, avail)
	}
	last := t.offset
	for i, d := range t.size {
		if t.stride[i] < 0 {
			return Named{}, fmt.Errorf("negative stride %v", t.stride)
		}
		if d > 1 && t.stride[i] > 0 && d-1 > avail/t.stride[i] {
			return Named{}, fmt.Errorf("size %v with stride %v exceeds storage %s of %d elements", t.size, t.stride, t.st.key, avail)
		}
		last += (d - 1) * t.stride[i]
		if last >= avail {
			return Named{}, fmt.Errorf("size %v with stride %v at offset %d exceeds storage %s of %d elements",
				t.size, t.stride, t.offset, t.st.key, avail)
		}
	}
	out.Data = make([]float32, numel)
	if isContiguous(t.size, t.stride) {
		decodeElems(out.Data, raw[t.offset*esz:(t.offset+numel)*esz], dt, r.order)
		return out, nil
	}
	dec := elemDecoder(dt, r.order)
	idx := make([]int, len(t.size))
	pos := t.offset
	for i := range out.Data {
		out.Data[i] = dec(raw[pos*esz:])
		// Advance the multi-index, last dimension fastest.
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// isContiguous reports whether stride is the row-major stride of size
// (ignoring dimensions of size 1).
func isContiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// interpret turns the unpickled top-level object into a TorchFile.
func (r *torchReader) interpret(obj any) (*TorchFile, error) {
	keys, vals, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("top-level object is %T, not a dict", obj)
	}
	conv := &converter{tensor: func(t *torchTensor) (any, error) {
		n, err := r.decodeTensor(t)
		if err != nil {
			return nil, err
		}
		return n, nil
	}}
	ck := &TorchFile{Raw: map[string]any{}}

	// A bare state dict: every value a tensor and no "state_dict" key.
	bare := len(keys) > 0
	for i, k := range keys {
		_, isTensor := vals[i].(*torchTensor)
		if k == "state_dict" || !isTensor {
			bare = false
			break
		}
	}
	if bare {
		sd, err := r.stateDict(obj)
		if err != nil {
			return nil, err
		}
		ck.StateDict = sd
		for _, k := range keys {
			ck.Keys = append(ck.Keys, fmt.Sprint(k))
		}
		return ck, nil
	}

	for i, k := range keys {
		name, ok := k.(string)
		if !ok {
			ck2, err := conv.key(k)
			if err != nil {
				return nil, err
			}
			name = fmt.Sprint(ck2)
		}
		ck.Keys = append(ck.Keys, name)
		v := vals[i]
		switch name {
		case "state_dict":
			sd, err := r.stateDict(v)
			if err != nil {
				return nil, err
			}
			ck.StateDict = sd
			continue
		case "args":
			akeys, avals, ok := namespaceAttrs(v)
			if !ok {
				akeys, avals, ok = dictEntries(v)
			}
			if ok {
				ck.Args = make(map[string]any, len(akeys))
				for j, ak := range akeys {
					an := fmt.Sprint(ak)
					av, err := conv.value(avals[j])
					if err != nil {
						return nil, fmt.Errorf("args.%s: %w", an, err)
					}
					ck.Args[an] = av
					ck.ArgNames = append(ck.ArgNames, an)
				}
				continue
			}
		case "epoch":
			if n, ok := v.(int); ok {
				ck.Epoch, ck.HasEpoch = int64(n), true
			}
		case "global_step":
			if n, ok := v.(int); ok {
				ck.GlobalStep, ck.HasGlobalStep = int64(n), true
			}
		}
		cv, err := conv.value(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ck.Raw[name] = cv
	}
	return ck, nil
}

// stateDict decodes the tensors of a state dict in order.
func (r *torchReader) stateDict(v any) ([]Named, error) {
	keys, vals, ok := dictEntries(v)
	if !ok {
		return nil, fmt.Errorf("state_dict is %T, not a dict", v)
	}
	out := make([]Named, 0, len(keys))
	for i, k := range keys {
		t, ok := vals[i].(*torchTensor)
		if !ok {
			continue
		}
		name := fmt.Sprint(k)
		n, err := r.decodeTensor(t)
		if err != nil {
			return nil, fmt.Errorf("state_dict[%q]: %w", name, err)
		}
		n.Name = name
		out = append(out, n)
	}
	return out, nil
}
