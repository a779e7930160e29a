package tensorfile

import (
	"fmt"
	"math"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"
)

// PyObject stands for an instance of a Python class that the reader does not
// interpret (an optimizer-specific class, a torch.device, ...). Class is
// "module.Name"; Args are the constructor or reduce arguments and State the
// argument of BUILD (usually the instance __dict__), all converted like every
// other value (see TorchFile.Raw). Items and Entries hold what the pickle
// appended or set on the object when the class is a list or dict subclass.
type PyObject struct {
	Class   string
	Args    []any
	State   any
	Items   []any
	Entries map[any]any
}

// pyClass is a Python class or function the unpickler does not know. Calling or
// instantiating it gives a *pyInstance that records its arguments.
type pyClass struct{ module, name string }

func (c *pyClass) Call(args ...any) (any, error)  { return &pyInstance{class: c, args: args}, nil }
func (c *pyClass) PyNew(args ...any) (any, error) { return &pyInstance{class: c, args: args}, nil }

// pyInstance is an object of a pyClass. It accepts any BUILD state and records
// items appended or set on it.
type pyInstance struct {
	class   *pyClass
	args    []any
	state   any
	items   []any
	keys    []any
	entries []any
}

// PySetState records the BUILD argument (the latest one, if several).
func (o *pyInstance) PySetState(state any) error {
	o.state = state
	return nil
}

func (o *pyInstance) Set(k, v any) { o.keys = append(o.keys, k); o.entries = append(o.entries, v) }
func (o *pyInstance) Append(v any) { o.items = append(o.items, v) }

// callFunc adapts a Go function to a pickle callable.
type callFunc func(args ...any) (any, error)

func (f callFunc) Call(args ...any) (any, error) { return f(args...) }

// dictEntries returns the key/value pairs of a pickled dict in order, and
// whether v is a dict at all.
func dictEntries(v any) (keys, vals []any, ok bool) {
	switch d := v.(type) {
	case *types.Dict:
		for _, e := range *d {
			keys = append(keys, e.Key)
			vals = append(vals, e.Value)
		}
		return keys, vals, true
	case *types.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			keys = append(keys, e.Key)
			vals = append(vals, e.Value)
		}
		return keys, vals, true
	}
	return nil, nil, false
}

// namespaceAttrs returns the attributes of a pickled argparse.Namespace (or any
// object whose BUILD state is a dict), in pickle order.
func namespaceAttrs(v any) (keys, vals []any, ok bool) {
	o, isObj := v.(*pyInstance)
	if !isObj {
		return nil, nil, false
	}
	state := o.state
	// BUILD may pass (dict, slotstate).
	if t, isTuple := state.(*types.Tuple); isTuple && t.Len() == 2 {
		state = t.Get(0)
	}
	return dictEntries(state)
}

// converter turns unpickled values into plain Go values, decoding tensors on
// the way.
type converter struct {
	tensor func(*torchTensor) (any, error)
	depth  int
}

const maxDepth = 200

func (c *converter) value(v any) (any, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case int:
		return int64(x), nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return new(big.Int).Set(x), nil
	case []byte:
		return append([]byte(nil), x...), nil
	case *types.ByteArray:
		return append([]byte(nil), (*x)...), nil
	case *types.Tuple:
		return c.slice(*x)
	case *types.List:
		return c.slice(*x)
	case *types.Set:
		s := make([]any, 0, len(*x))
		for k := range *x {
			s = append(s, k)
		}
		return c.slice(s)
	case *types.FrozenSet:
		s := make([]any, 0, len(*x))
		for k := range *x {
			s = append(s, k)
		}
		return c.slice(s)
	case *types.Dict, *types.OrderedDict:
		keys, vals, _ := dictEntries(x)
		return c.dict(keys, vals)
	case *torchTensor:
		if dtypeSize(x.dtype) == 0 {
			return &PyObject{Class: "torch.Tensor", Args: []any{"torch." + x.st.class.name}}, nil
		}
		return c.tensor(x)
	case *pyInstance:
		switch x.class.module + "." + x.class.name {
		case "argparse.Namespace":
			if keys, vals, ok := namespaceAttrs(x); ok {
				return c.dict(keys, vals)
			}
		case "collections.defaultdict":
			return c.dict(x.keys, x.entries)
		}
		return c.object(x)
	case *pyClass:
		return &PyObject{Class: x.module + "." + x.name}, nil
	case *storageClass:
		return &PyObject{Class: "torch." + x.name}, nil
	case *storageRef:
		return &PyObject{Class: "torch." + x.class.name, Args: []any{x.key, x.location, int64(x.numel)}}, nil
	case dtypeToken:
		return &PyObject{Class: "torch." + x.name}, nil
	}
	return fmt.Sprintf("%v", v), nil
}

func (c *converter) slice(s []any) ([]any, error) {
	out := make([]any, len(s))
	for i, e := range s {
		v, err := c.value(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// dict converts key/value pairs to map[string]any when every key is a string,
// and to map[any]any otherwise (keys that are not comparable become their
// printed form).
func (c *converter) dict(keys, vals []any) (any, error) {
	allStrings := true
	for _, k := range keys {
		if _, ok := k.(string); !ok {
			allStrings = false
			break
		}
	}
	if allStrings {
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			v, err := c.value(vals[i])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", k, err)
			}
			m[k.(string)] = v
		}
		return m, nil
	}
	m := make(map[any]any, len(keys))
	for i, k := range keys {
		ck, err := c.key(k)
		if err != nil {
			return nil, err
		}
		v, err := c.value(vals[i])
		if err != nil {
			return nil, fmt.Errorf("%v: %w", ck, err)
		}
		m[ck] = v
	}
	return m, nil
}

// key converts a dict key to a comparable Go value.
func (c *converter) key(k any) (any, error) {
	switch x := k.(type) {
	case nil, bool, string:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if math.IsNaN(x) {
			return "nan", nil
		}
		return x, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x.String(), nil
	}
	v, err := c.value(k)
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("%v", v), nil
}

func (c *converter) object(o *pyInstance) (*PyObject, error) {
	out := &PyObject{Class: o.class.module + "." + o.class.name}
	var err error
	if out.Args, err = c.slice(o.args); err != nil {
		return nil, fmt.Errorf("%s: %w", out.Class, err)
	}
	if out.State, err = c.value(o.state); err != nil {
		return nil, fmt.Errorf("%s: %w", out.Class, err)
	}
	if len(o.items) > 0 {
		if out.Items, err = c.slice(o.items); err != nil {
			return nil, fmt.Errorf("%s: %w", out.Class, err)
		}
	}
	if len(o.keys) > 0 {
		out.Entries = make(map[any]any, len(o.keys))
		for i, k := range o.keys {
			ck, err := c.key(k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", out.Class, err)
			}
			if out.Entries[ck], err = c.value(o.entries[i]); err != nil {
				return nil, fmt.Errorf("%s: %w", out.Class, err)
			}
		}
	}
	return out, nil
}
