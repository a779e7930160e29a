//go:build !amd64

package cpu

const useDot64AVX2 = false

func dotF64AVX2(x, y *float32, n int) float64                { panic("unreachable") }
func axpyF64AVX2(a float64, x *float32, acc *float64, n int) { panic("unreachable") }

func axpyF32AVX2(a float32, x, y *float32, n int) { panic("unreachable") }

func mulAddF64AVX2(x, y *float32, acc *float64, n int) { panic("unreachable") }
func mulAddF32AVX2(x, y, z *float32, n int)            { panic("unreachable") }
func mulF32AVX2(x, y, z *float32, n int)               { panic("unreachable") }
