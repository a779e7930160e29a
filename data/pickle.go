package data

import (
	"bytes"
	"fmt"
	"io"

	"github.com/nvae-go/nvae/internal/picklescan"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// The CIFAR-10 Python batches are pickled dicts whose b'data' entry is a numpy array.
// numpy pickles an array as
//
//	numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')   (REDUCE)
//	BUILD (version, shape, dtype, is_fortran, raw_bytes)
//
// and the dtype as numpy.dtype('u1', False, True) followed by BUILD with a state tuple
// whose second element is the byte order. The types below implement just enough of
// these callables for gopickle to rebuild uint8 and integer arrays; every other class
// is refused, so loading a pickle never runs anything else.

// npArray is a rebuilt numpy array.
type npArray struct {
	shape   []int
	dtype   *npDtype
	fortran bool
	raw     []byte
}

// PySetState receives the ndarray state tuple from BUILD.
func (a *npArray) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() != 5 {
		return fmt.Errorf("numpy array state: expected a 5-tuple (version, shape, dtype, fortran, data), found %T", state)
	}
	shape, ok := t.Get(1).(*types.Tuple)
	if !ok {
		return fmt.Errorf("numpy array state: expected a shape tuple, found %T", t.Get(1))
	}
	for _, d := range *shape {
		n, ok := d.(int)
		if !ok || n < 0 {
			return fmt.Errorf("numpy array state: bad dimension %v in shape", d)
		}
		a.shape = append(a.shape, n)
	}
	if a.dtype, ok = t.Get(2).(*npDtype); !ok {
		return fmt.Errorf("numpy array state: expected a dtype, found %T", t.Get(2))
	}
	if a.fortran, ok = t.Get(3).(bool); !ok {
		return fmt.Errorf("numpy array state: expected a bool fortran flag, found %T", t.Get(3))
	}
	raw, err := pyBytes(t.Get(4))
	if err != nil {
		return fmt.Errorf("numpy array state: data: %w", err)
	}
	a.raw = raw
	return nil
}

// numel is the product of the array's dimensions.
func (a *npArray) numel() int {
	n := 1
	for _, d := range a.shape {
		n *= d
	}
	return n
}

// ints returns the array's values as ints for the integer dtypes u1, i1, i2, i4, i8, u2,
// u4 (little-endian or byte order not applicable).
func (a *npArray) ints() ([]int, error) {
	if a.fortran && len(a.shape) > 1 {
		return nil, fmt.Errorf("Fortran-ordered numpy arrays are not supported")
	}
	size := map[string]int{"u1": 1, "i1": 1, "u2": 2, "i2": 2, "u4": 4, "i4": 4, "i8": 8}[a.dtype.kind]
	if size == 0 {
		return nil, fmt.Errorf("numpy dtype %q is not an integer type", a.dtype.kind)
	}
	if size > 1 && a.dtype.order == ">" {
		return nil, fmt.Errorf("big-endian numpy dtype %q is not supported", a.dtype.kind)
	}
	n := a.numel()
	if len(a.raw) != n*size {
		return nil, fmt.Errorf("numpy array of shape %v and dtype %s needs %d bytes, found %d", a.shape, a.dtype.kind, n*size, len(a.raw))
	}
	out := make([]int, n)
	for i := range out {
		b := a.raw[i*size:]
		var u uint64
		for k := size - 1; k >= 0; k-- {
			u = u<<8 | uint64(b[k])
		}
		if a.dtype.kind[0] == 'i' && size < 8 && u>>(8*size-1) == 1 {
			u |= ^uint64(0) << (8 * size)
		}
		out[i] = int(int64(u))
	}
	return out, nil
}

// npDtype is a rebuilt numpy dtype: kind is the type string given to numpy.dtype
// ("u1", "i8", ...), order the byte-order character from its state ("|", "<", ">").
type npDtype struct {
	kind  string
	order string
}

// PySetState receives the dtype state tuple (version, byte order, ...).
func (d *npDtype) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 2 {
		return fmt.Errorf("numpy dtype state: expected a tuple, found %T", state)
	}
	if s, ok := t.Get(1).(string); ok {
		d.order = s
	}
	return nil
}

// npDtypeClass is numpy.dtype.
type npDtypeClass struct{}

// Call builds a dtype from numpy.dtype(kind, align, copy).
func (npDtypeClass) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy.dtype: no arguments")
	}
	kind, ok := args[0].(string)
	if !ok {
		b, isBytes := args[0].([]byte)
		if !isBytes {
			return nil, fmt.Errorf("numpy.dtype: expected a type string, found %T", args[0])
		}
		kind = string(b)
	}
	if k, ok := map[string]string{"uint8": "u1", "B": "u1", "int64": "i8"}[kind]; ok {
		kind = k
	}
	return &npDtype{kind: kind}, nil
}

// npNDArrayClass is numpy.ndarray, only used as an argument of _reconstruct.
type npNDArrayClass struct{}

// npReconstruct is numpy.core.multiarray._reconstruct.
type npReconstruct struct{}

// Call returns an empty array that BUILD then fills.
func (npReconstruct) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy _reconstruct: no arguments")
	}
	if _, ok := args[0].(npNDArrayClass); !ok {
		return nil, fmt.Errorf("numpy _reconstruct: expected numpy.ndarray, found %T", args[0])
	}
	return &npArray{}, nil
}

// codecsEncode is _codecs.encode, which Python 3 uses to pickle bytes under protocol 2:
// encode(text, 'latin1') maps each code point below 256 to one byte.
type codecsEncode struct{}

// Call encodes args[0] with the encoding args[1] (latin1 only).
func (codecsEncode) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_codecs.encode: no arguments")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("_codecs.encode: expected a string, found %T", args[0])
	}
	if len(args) > 1 {
		if enc, _ := args[1].(string); enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1" {
			return nil, fmt.Errorf("_codecs.encode: unsupported encoding %v", args[1])
		}
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, fmt.Errorf("_codecs.encode: code point %U is not latin-1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// findNumpyClass resolves the globals a numpy array pickle needs.
func findNumpyClass(module, name string) (any, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return npReconstruct{}, nil
	case "numpy.ndarray":
		return npNDArrayClass{}, nil
	case "numpy.dtype":
		return npDtypeClass{}, nil
	case "_codecs.encode":
		return codecsEncode{}, nil
	}
	return nil, fmt.Errorf("pickle refers to %s.%s, which is not allowed in a dataset pickle", module, name)
}

// pyBytes accepts the forms a byte string takes after unpickling: a Go string (Python 2
// str, BINSTRING), []byte (Python 3 bytes) or a bytearray.
func pyBytes(v any) ([]byte, error) {
	switch b := v.(type) {
	case string:
		return []byte(b), nil
	case []byte:
		return b, nil
	case *types.ByteArray:
		return []byte(*b), nil
	}
	return nil, fmt.Errorf("expected a byte string, found %T", v)
}

// unpickle decodes one pickle from r, allowing only the numpy globals above. The
// pickle is read whole first and its length fields checked against its size
// (picklescan), so a corrupt length cannot cause an allocation larger than the
// input; a panic of the unpickler on malformed input is returned as an error.
func unpickle(r io.Reader) (obj any, err error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := picklescan.Check(b); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %v", p)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(b))
	u.FindClass = findNumpyClass
	return u.Load()
}

// dictGet looks key up in a pickled dict whose keys are str or bytes.
func dictGet(d *types.Dict, key string) (any, bool) {
	for _, e := range *d {
		switch k := e.Key.(type) {
		case string:
			if k == key {
				return e.Value, true
			}
		case []byte:
			if string(k) == key {
				return e.Value, true
			}
		}
	}
	return nil, false
}
