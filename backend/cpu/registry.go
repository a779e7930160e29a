package cpu

import (
	"fmt"
	"slices"
	"sync/atomic"
)

// The kernel families of the package (see the package documentation).
const (
	FamilyGemm  = "gemm"  // SGEMM microkernels and their cache blocking (Sgemm)
	FamilyPack  = "pack"  // the B-panel packing copy of Sgemm
	FamilyVMath = "vmath" // vectorised exp-family activations and batch-norm row kernels
	FamilyConv  = "conv"  // depthwise / grouped convolution inner kernels
	FamilyVec   = "vec"   // float32 / float64-accumulating vector ops (DotF64, AxpyF32, …)
	FamilyPeak  = "peak"  // the FMA loop PeakGFLOPS measures
)

// Variant priorities: of the variants of a family the CPU supports, the one with the
// highest priority is used by default.
const (
	prioGo     = 0
	prioAVX2   = 20
	prioAVX512 = 30
)

// feature is a CPU capability a variant needs.
type feature struct {
	name string
	has  bool
}

// kernelImpl is one registered variant of a family with kernels of type K.
type kernelImpl[K any] struct {
	name  string
	prio  int
	needs []feature
	k     K
}

// missing lists the features the CPU lacks for the variant.
func (v *kernelImpl[K]) missing() []string {
	var m []string
	for _, f := range v.needs {
		if !f.has {
			m = append(m, f.name)
		}
	}
	return m
}

// kernelFamily is a family of interchangeable kernel implementations of type K, one
// of which is in use.
type kernelFamily[K any] struct {
	name  string
	impls []*kernelImpl[K] // every registered variant, best first
	cur   atomic.Pointer[kernelImpl[K]]
}

// family is the type-independent view of a kernelFamily the registry keeps.
type family interface {
	variants() []variantInfo
	current() string
	force(name string) (restore func(), err error)
}

// variantInfo describes one registered variant: its name and the CPU features it
// needs but the CPU lacks (none: supported).
type variantInfo struct {
	name    string
	missing []string
}

var families = map[string]family{}

// newFamily creates and registers a family whose portable variant "go" (needing
// nothing, so always supported) is portable.
func newFamily[K any](name string, portable K) *kernelFamily[K] {
	if _, dup := families[name]; dup {
		panic("cpu: kernel family " + name + " registered twice")
	}
	f := &kernelFamily[K]{name: name}
	f.add("go", prioGo, nil, portable)
	families[name] = f
	return f
}

// add registers a variant that needs the given CPU features and makes the best
// supported variant the current one. It is called from package initialisation.
func (f *kernelFamily[K]) add(name string, prio int, needs []feature, k K) {
	for _, v := range f.impls {
		if v.name == name {
			panic("cpu: kernel variant " + f.name + "/" + name + " registered twice")
		}
	}
	f.impls = append(f.impls, &kernelImpl[K]{name: name, prio: prio, needs: needs, k: k})
	slices.SortStableFunc(f.impls, func(a, b *kernelImpl[K]) int { return b.prio - a.prio })
	for _, v := range f.impls {
		if len(v.missing()) == 0 {
			f.cur.Store(v)
			return
		}
	}
}

// get returns the kernels in use.
func (f *kernelFamily[K]) get() K { return f.cur.Load().k }

func (f *kernelFamily[K]) variants() []variantInfo {
	vs := make([]variantInfo, len(f.impls))
	for i, v := range f.impls {
		vs[i] = variantInfo{v.name, v.missing()}
	}
	return vs
}

func (f *kernelFamily[K]) current() string { return f.cur.Load().name }

func (f *kernelFamily[K]) force(name string) (restore func(), err error) {
	for _, v := range f.impls {
		if v.name != name {
			continue
		}
		if m := v.missing(); len(m) > 0 {
			return nil, fmt.Errorf("force kernel variant %s/%s: this CPU lacks %v", f.name, name, m)
		}
		old := f.cur.Swap(v)
		return func() { f.cur.Store(old) }, nil
	}
	return nil, fmt.Errorf("force kernel variant %s/%s: no such variant (have %v)", f.name, name, KernelVariants(f.name))
}

// KernelFamilies lists the kernel families, sorted by name.
func KernelFamilies() []string {
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// KernelVariants lists the variants of a kernel family this CPU supports, the
// default (preferred) first and the portable "go" last; nil for an unknown family.
func KernelVariants(family string) []string {
	f, ok := families[family]
	if !ok {
		return nil
	}
	var names []string
	for _, v := range f.variants() {
		if len(v.missing) == 0 {
			names = append(names, v.name)
		}
	}
	return names
}

// KernelVariant names the variant of a kernel family in use ("" for an unknown
// family).
func KernelVariant(family string) string {
	f, ok := families[family]
	if !ok {
		return ""
	}
	return f.current()
}

// ForceVariant makes a kernel family use the named variant (one of KernelVariants)
// and returns a function that restores the previous one. It is meant for tests and
// benchmarks: calls running concurrently may use either variant.
func ForceVariant(family, name string) (restore func(), err error) {
	f, ok := families[family]
	if !ok {
		return nil, fmt.Errorf("force kernel variant %s/%s: no such family (have %v)", family, name, KernelFamilies())
	}
	return f.force(name)
}
