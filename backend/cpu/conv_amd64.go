package cpu

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (conv_amd64.s). Strides and lengths are in float32 elements.

//go:noescape
func dwMulAddAVX512(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)

//go:noescape
func dwDotAddAVX512(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)

//go:noescape
func convAddAVX512(dst *float32, src *float32, n int)

//go:noescape
func dwMulAddAVX2(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)

//go:noescape
func dwDotAddAVX2(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)

//go:noescape
func convAddAVX2(dst *float32, src *float32, n int)

// asmKernels wraps raw assembly kernels with the extent checks that keep them
// memory safe.
func asmKernels(name string,
	mulAdd func(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int),
	dotAdd func(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int),
	add func(dst *float32, src *float32, n int)) convKernels {
	return convKernels{
		name: name,
		mulAdd: func(dst []float32, ds int, src []float32, ss int, w []float32, count int) {
			c := len(w)
			if count <= 0 || c == 0 {
				return
			}
			if len(dst) < (count-1)*ds+c || len(src) < (count-1)*ss+c {
				panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d ds=%d len(dst)=%d ss=%d len(src)=%d",
					c, count, ds, len(dst), ss, len(src)))
			}
			mulAdd(&dst[0], ds, &src[0], ss, &w[0], c, count)
		},
		dotAdd: func(acc []float32, a []float32, sa int, b []float32, sb int, count int) {
			c := len(acc)
			if count <= 0 || c == 0 {
				return
			}
			if len(a) < (count-1)*sa+c || len(b) < (count-1)*sb+c {
				panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d sa=%d len(a)=%d sb=%d len(b)=%d",
					c, count, sa, len(a), sb, len(b)))
			}
			dotAdd(&acc[0], &a[0], sa, &b[0], sb, c, count)
		},
		add: func(dst, src []float32) {
			if len(dst) == 0 {
				return
			}
			src = src[:len(dst)]
			add(&dst[0], &src[0], len(dst))
		},
	}
}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		convKernelSets = append(convKernelSets, asmKernels("avx2", dwMulAddAVX2, dwDotAddAVX2, convAddAVX2))
	}
	if cpu.X86.HasAVX512F {
		convKernelSets = append(convKernelSets, asmKernels("avx512", dwMulAddAVX512, dwDotAddAVX512, convAddAVX512))
	}
	useConvKernels(convKernelSets[len(convKernelSets)-1])
}
