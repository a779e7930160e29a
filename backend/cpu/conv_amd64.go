package cpu

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

//go:noescape
func dwMulAddAVX512(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)

//go:noescape
func convAddAVX512(dst *float32, src *float32, n int)

// convAddAsm sets dst[i] += src[i] with the assembly kernel.
func convAddAsm(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:len(dst)]
	convAddAVX512(&dst[0], &src[0], len(dst))
}

//go:noescape
func dwDotAddAVX512(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)

// dwMulAddAsm checks the extents the assembly kernel touches, then runs it.
func dwMulAddAsm(dst []float32, ds int, src []float32, ss int, w []float32, count int) {
	c := len(w)
	if count <= 0 || c == 0 {
		return
	}
	if len(dst) < (count-1)*ds+c || len(src) < (count-1)*ss+c {
		panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d ds=%d len(dst)=%d ss=%d len(src)=%d",
			c, count, ds, len(dst), ss, len(src)))
	}
	dwMulAddAVX512(&dst[0], ds, &src[0], ss, &w[0], c, count)
}

// dwDotAddAsm checks the extents the assembly kernel touches, then runs it.
func dwDotAddAsm(acc []float32, a []float32, sa int, b []float32, sb int, count int) {
	c := len(acc)
	if count <= 0 || c == 0 {
		return
	}
	if len(a) < (count-1)*sa+c || len(b) < (count-1)*sb+c {
		panic(fmt.Sprintf("cpu: depthwise kernel out of range: c=%d count=%d sa=%d len(a)=%d sb=%d len(b)=%d",
			c, count, sa, len(a), sb, len(b)))
	}
	dwDotAddAVX512(&acc[0], &a[0], sa, &b[0], sb, c, count)
}

func init() {
	if cpu.X86.HasAVX512F {
		convDepthwiseKernels = append(convDepthwiseKernels, dwKernels{"avx512", dwMulAddAsm, dwDotAddAsm})
		dwMulAdd, dwDotAdd = dwMulAddAsm, dwDotAddAsm
		convAddImpl = convAddAsm
	}
}
