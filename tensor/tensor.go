// Package tensor holds dense, contiguous, row-major float32 tensors: a shape and its
// storage, with no gradients. Images and feature maps are NHWC inside the engine and
// convolution weights are OHWI ([out, kh, kw, in/groups]); conversions from PyTorch's
// NCHW / OIHW live in this package (see layout.go).
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense float32 array with a shape. The zero-dimensional shape [] holds a
// single scalar.
type Tensor struct {
	shape []int
	data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) in a tensor of the given shape. It panics if the
// lengths disagree, which is a programming error.
func FromData(data []float32, shape ...int) *Tensor {
	if Numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor.FromData: %d values for shape %v", len(data), shape))
	}
	return &Tensor{shape: append([]int(nil), shape...), data: data}
}

// Scalar returns a zero-dimensional tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{shape: []int{}, data: []float32{v}} }

// Numel is the number of elements of a shape (1 for the scalar shape []).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Data returns the tensor's storage. Writes through it change the tensor.
func (t *Tensor) Data() []float32 { return t.data }

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Item returns the single value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.data) != 1 {
		panic(fmt.Sprintf("tensor.Item on shape %v", t.shape))
	}
	return t.data[0]
}

// Reshape returns a tensor sharing t's storage with a new shape of the same size.
// One dimension may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	s := InferShape(len(t.data), shape)
	return &Tensor{shape: s, data: t.data}
}

// InferShape resolves a single -1 in shape so that it holds n elements, panicking when
// impossible.
func InferShape(n int, shape []int) []int {
	s := append([]int(nil), shape...)
	neg, prod := -1, 1
	for i, d := range s {
		if d == -1 {
			neg = i
		} else {
			prod *= d
		}
	}
	if neg >= 0 && prod > 0 && n%prod == 0 {
		s[neg] = n / prod
		prod *= s[neg]
	}
	if prod != n {
		panic(fmt.Sprintf("tensor: cannot reshape %d elements to %v", n, shape))
	}
	return s
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: append([]int(nil), t.shape...), data: append([]float32(nil), t.data...)}
}

// CopyFrom copies src's values into t; the sizes must agree.
func (t *Tensor) CopyFrom(src *Tensor) {
	if len(src.data) != len(t.data) {
		panic(fmt.Sprintf("tensor.CopyFrom: %v into %v", src.shape, t.shape))
	}
	copy(t.data, src.data)
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.data {
		t.data[i] = v
	}
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String prints the shape and the first few values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range t.data {
		if i == 8 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteString("]")
	return b.String()
}
