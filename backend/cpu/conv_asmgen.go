//go:build ignore

// This program writes conv_taps_amd64.s, the depthwise kernels for a fixed number of
// taps (see conv_amd64.go): the AVX-512 row kernels and the AVX2 tile kernels. Run it with
//
//	go run conv_asmgen.go > conv_taps_amd64.s
//
// (or `go generate` in this directory). For each block of 64 channels (4 Z
// registers) a kernel keeps taps×4 vectors in Z8… for the whole row: the weights
// (dwRow<taps>AVX512, so each FMA needs one load of x) or the filter-gradient
// accumulators (dwRowDot<taps>AVX512, so each dy vector is loaded once for all taps).
//
// The AVX2 tile kernels (dwTile<taps>x<strip>AVX2) compute finished output pixels:
// for a strip of 4 (or 1) pixels and a block of 8 channels, the accumulators start
// from the bias and stay in registers over every kernel row and tap; the input vectors
// of a kernel row are loaded once and used by every tap that reads them (taps and
// pixels are one input pixel apart), so a strip of 4 needs 4+taps−1 input loads and
// taps weight loads for 4·taps FMAs, where the row kernel needs two loads per FMA.
//
// The AVX2 3×3 kernels (conv3x3Tiles6x<width>AVX2) compute tiles of 6 output pixels
// by 16 (or 8) output channels of a dense 3×3 convolution straight from a zero-padded
// input, without a column matrix (see conv_direct3.go).
package main

import (
	"fmt"
	"os"
	"strings"
)

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// prologue loads the arguments (names in frame order) and scales the strides to
// bytes; it jumps to done when count ≤ 0.
func prologue(l string, args [9]string) {
	regs := [9]string{"DI", "R8", "SI", "R9", "DX", "R13", "R10", "R11", "R12"}
	if args[0] == "acc" {
		regs = [9]string{"DI", "R13", "SI", "R9", "DX", "R8", "R10", "R11", "R12"}
	}
	for i, a := range args {
		p("\tMOVQ %s+%d(FP), %s", a, 8*i, regs[i])
	}
	for _, r := range []string{"R8", "R9", "R13", "R10", "R11"} {
		p("\tSHLQ $2, %s", r)
	}
	p("\tTESTQ R12, R12")
	p("\tJLE  %sdone", l)
	p("\tXORQ AX, AX            // byte offset of the channel block")
	p("")
	p("%sblock:", l)
	p("\tCMPQ AX, R11")
	p("\tJGE  %sdone", l)
}

// taps moves taps×4 vectors between Z8… and the rows at base (R13 bytes apart).
func taps(n int, base string, load bool) {
	p("\tLEAQ (%s)(AX*1), CX", base)
	for k := 0; k < n; k++ {
		if k > 0 {
			p("\tADDQ R13, CX")
		}
		for v := 0; v < 4; v++ {
			if load {
				p("\tVMOVUPS %d(CX), Z%d", 64*v, 8+4*k+v)
			} else {
				p("\tVMOVUPS Z%d, %d(CX)", 8+4*k+v, 64*v)
			}
		}
	}
}

func epilogue(l string) {
	p("\tADDQ $256, AX")
	p("\tJMP  %sblock", l)
	p("")
	p("%sdone:", l)
	p("\tVZEROUPPER")
	p("\tRET")
}

func row(n int) {
	l := fmt.Sprintf("r%d", n)
	p("// func dwRow%dAVX512(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int)", n)
	p("// The row kernel for exactly %d taps and c a multiple of 64: for each block of 64", n)
	p("// channels the %d×4 weight vectors stay in registers (Z8...) while the output", n)
	p("// pixels stream by, so each FMA needs one load.")
	p("TEXT ·dwRow%dAVX512(SB), NOSPLIT, $0-72", n)
	prologue(l, [9]string{"y", "ys", "x", "xs", "w", "ws", "xk", "c", "count"})
	taps(n, "DX", true)
	p("\tLEAQ (DI)(AX*1), R14")
	p("\tLEAQ (SI)(AX*1), R15")
	p("\tMOVQ R12, BX")
	p("")
	p("%sloop:", l)
	p("\tVMOVUPS (R14), Z0")
	for v := 1; v < 4; v++ {
		p("\tVMOVUPS %d(R14), Z%d", 64*v, v)
	}
	p("\tMOVQ R15, CX")
	for k := 0; k < n; k++ {
		if k > 0 {
			p("\tADDQ R10, CX")
		}
		for v := 0; v < 4; v++ {
			p("\tVFMADD231PS %d(CX), Z%d, Z%d", 64*v, 8+4*k+v, v)
		}
	}
	p("\tVMOVUPS Z0, (R14)")
	for v := 1; v < 4; v++ {
		p("\tVMOVUPS Z%d, %d(R14)", v, 64*v)
	}
	p("\tADDQ R8, R14")
	p("\tADDQ R9, R15")
	p("\tDECQ BX")
	p("\tJNZ  %sloop", l)
	epilogue(l)
}

func rowDot(n int) {
	l := fmt.Sprintf("g%d", n)
	p("// func dwRowDot%dAVX512(acc *float32, ws int, x *float32, xs int, dy *float32, ys int, xk int, c int, count int)", n)
	p("// for k < %d, i < c (a multiple of 64):", n)
	p("//   acc[k*ws+i] += sum_{j<count} x[j*xs + k*xk + i] * dy[j*ys + i]")
	p("// The %d×4 accumulator vectors of a 64-channel block stay in registers (Z8...)", n)
	p("// while the pixels stream by; each dy vector is loaded once for all %d taps.", n)
	p("TEXT ·dwRowDot%dAVX512(SB), NOSPLIT, $0-72", n)
	prologue(l, [9]string{"acc", "ws", "x", "xs", "dy", "ys", "xk", "c", "count"})
	taps(n, "DI", true)
	p("\tLEAQ (SI)(AX*1), R14")
	p("\tLEAQ (DX)(AX*1), R15")
	p("\tMOVQ R12, BX")
	p("")
	p("%sloop:", l)
	p("\tVMOVUPS (R15), Z0")
	for v := 1; v < 4; v++ {
		p("\tVMOVUPS %d(R15), Z%d", 64*v, v)
	}
	p("\tMOVQ R14, CX")
	for k := 0; k < n; k++ {
		if k > 0 {
			p("\tADDQ R10, CX")
		}
		for v := 0; v < 4; v++ {
			p("\tVFMADD231PS %d(CX), Z%d, Z%d", 64*v, v, 8+4*k+v)
		}
	}
	p("\tADDQ R9, R14")
	p("\tADDQ R8, R15")
	p("\tDECQ BX")
	p("\tJNZ  %sloop", l)
	taps(n, "DI", false)
	epilogue(l)
}

// tile writes dwTile<taps>x<strip>AVX2:
//
//	func(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)
//
// for j < count, i < c (a multiple of 8):
//
//	y[j·ys+i] = b[i] + Σ_{r<rows} Σ_{k<taps} x[r·xr + (j+k)·xs + i]·w[r·wr + k·xs + i]
//
// (the weights' tap stride is the input's pixel stride: both are the channel count of
// an NHWC tensor); count is a multiple of strip, rows ≥ 1; strides are in elements.
func tile(taps, strip int) {
	l := tileHeader(taps, strip, "conv_asmgen.go")
	p("\tMOVQ y+0(FP), DI")
	p("\tMOVQ x+24(FP), SI")
	p("\tMOVQ count+72(FP), R12")
	p("\tTESTQ R12, R12")
	p("\tJLE  %sdone", l)
	p("\tTESTQ R11, R11")
	p("\tJLE  %sdone", l)
	p("")
	p("%sstrip:", l)
	p("\tXORQ AX, AX            // byte offset of the channel block")
	p("")
	p("%sblock:", l)
	p("\tMOVQ b+16(FP), DX")
	p("\tVMOVUPS (DX)(AX*1), Y0")
	for a := 1; a < strip; a++ {
		p("\tVMOVAPS Y0, Y%d", a)
	}
	p("\tLEAQ (SI)(AX*1), R14")
	p("\tLEAQ (BX)(AX*1), R15")
	p("\tMOVQ rows+80(FP), CX")
	p("")
	p("%srow:", l)
	// the input vectors of this kernel row: pixels 0 … strip+taps−2 from R14
	nx := strip + taps - 1
	addr := func(base string, j int) string {
		// base + j·R9 through DX for j ≥ 3 (DX = base + 2·R9·⌊(j−1)/2⌋)
		switch j {
		case 0:
			return "(" + base + ")"
		case 1:
			return "(" + base + ")(R9*1)"
		case 2:
			return "(" + base + ")(R9*2)"
		}
		if j%2 == 1 {
			return "(DX)(R9*1)"
		}
		return "(DX)(R9*2)"
	}
	// DX must be base + (j−1−(j−1)%2)·R9 before addr(base, j) for j ≥ 3: step it at odd j
	step := func(base string, j int) {
		if j == 3 {
			p("\tLEAQ (%s)(R9*2), DX", base)
		} else if j >= 5 && j%2 == 1 {
			p("\tLEAQ (DX)(R9*2), DX")
		}
	}
	for j := 0; j < nx; j++ {
		step("R14", j)
		p("\tVMOVUPS %s, Y%d", addr("R14", j), 4+j)
	}
	for k := 0; k < taps; k++ {
		step("R15", k)
		wreg := 12 + k%2
		if strip == 1 {
			p("\tVFMADD231PS %s, Y%d, Y0", addr("R15", k), 4+k)
			continue
		}
		p("\tVMOVUPS %s, Y%d", addr("R15", k), wreg)
		for a := 0; a < strip; a++ {
			p("\tVFMADD231PS Y%d, Y%d, Y%d", wreg, 4+a+k, a)
		}
	}
	p("\tADDQ R10, R14")
	p("\tADDQ R13, R15")
	p("\tDECQ CX")
	p("\tJNZ  %srow", l)
	p("\tLEAQ (DI)(AX*1), DX")
	for a := 0; a < strip; a++ {
		switch a {
		case 0:
			p("\tVMOVUPS Y0, (DX)")
		case 1:
			p("\tVMOVUPS Y1, (DX)(R8*1)")
		case 2:
			p("\tVMOVUPS Y2, (DX)(R8*2)")
		case 3:
			p("\tLEAQ (DX)(R8*2), DX")
			p("\tVMOVUPS Y3, (DX)(R8*1)")
		}
	}
	p("\tADDQ $32, AX")
	p("\tCMPQ AX, R11")
	p("\tJLT  %sblock", l)
	for i := 0; i < strip; i++ {
		p("\tADDQ R8, DI")
		p("\tADDQ R9, SI")
	}
	p("\tSUBQ $%d, R12", strip)
	p("\tJGT  %sstrip", l)
	p("")
	p("%sdone:", l)
	p("\tVZEROUPPER")
	p("\tRET")
}

// tile8 writes dwTile<taps>x8AVX2, the tile kernel for strips of 8 pixels (same
// arguments and sums as tile). Eight accumulators keep both FMA units busy, where
// the four of a strip of 4 leave them waiting on the FMA latency; the taps' weights
// of a kernel row stay in registers (Y8…) while its input vectors stream through
// Y13–Y15, each loaded once and multiplied into every accumulator that reads it.
// Channel blocks are the outer loop and strips the inner one, so the input rows of
// a block of 8 channels stay in L1 across its strips (those of all the channels of
// a strip need not fit). Each output still sums its taps row by row in tap order,
// as tile does.
func tile8(taps int) {
	const strip = 8
	l := tileHeader(taps, strip, "tile8 in conv_asmgen.go")
	p("\tCMPQ count+72(FP), $0")
	p("\tJLE  %sdone", l)
	p("\tTESTQ R11, R11")
	p("\tJLE  %sdone", l)
	p("\tXORQ AX, AX            // byte offset of the channel block")
	p("")
	p("%sblock:", l)
	p("\tMOVQ x+24(FP), SI")
	p("\tADDQ AX, SI            // the strip's first input")
	p("\tMOVQ y+0(FP), DI")
	p("\tADDQ AX, DI            // the strip's first output")
	p("\tMOVQ count+72(FP), R12")
	p("")
	p("%sstrip:", l)
	p("\tMOVQ b+16(FP), DX")
	p("\tVMOVUPS (DX)(AX*1), Y0")
	for a := 1; a < strip; a++ {
		p("\tVMOVAPS Y0, Y%d", a)
	}
	p("\tMOVQ SI, R14")
	p("\tLEAQ (BX)(AX*1), R15")
	p("\tMOVQ rows+80(FP), CX")
	p("")
	p("%srow:", l)
	for k := 0; k < taps; k++ {
		stepped(k, "R15", "R9", func(addr string) { p("\tVMOVUPS %s, Y%d", addr, 8+k) })
	}
	for j := 0; j < strip+taps-1; j++ {
		xr := 13 + j%3
		stepped(j, "R14", "R9", func(addr string) { p("\tVMOVUPS %s, Y%d", addr, xr) })
		for k := 0; k < taps; k++ {
			if a := j - k; a >= 0 && a < strip {
				p("\tVFMADD231PS Y%d, Y%d, Y%d", 8+k, xr, a)
			}
		}
	}
	p("\tADDQ R10, R14")
	p("\tADDQ R13, R15")
	p("\tDECQ CX")
	p("\tJNZ  %srow", l)
	for a := 0; a < strip; a++ {
		stepped(a, "DI", "R8", func(addr string) { p("\tVMOVUPS Y%d, %s", a, addr) })
	}
	p("\tLEAQ (R8)(R8*2), DX")
	p("\tLEAQ (DI)(DX*2), DI")
	p("\tLEAQ (DI)(R8*2), DI   // DI += 8·ys")
	p("\tLEAQ (R9)(R9*2), DX")
	p("\tLEAQ (SI)(DX*2), SI")
	p("\tLEAQ (SI)(R9*2), SI   // SI += 8·xs")
	p("\tSUBQ $%d, R12", strip)
	p("\tJGT  %sstrip", l)
	p("\tADDQ $32, AX")
	p("\tCMPQ AX, R11")
	p("\tJLT  %sblock", l)
	p("")
	p("%sdone:", l)
	p("\tVZEROUPPER")
	p("\tRET")
}

// tileHeader writes the head of dwTile<taps>x<strip>AVX2 (see tile for its arguments)
// up to the strides, loaded in bytes: R8 ys, R9 xs, R10 xr, R13 wr and R11 c, with
// BX = w; see names the description the kernel's comment points to. It returns the
// kernel's label prefix.
func tileHeader(taps, strip int, see string) string {
	name := fmt.Sprintf("dwTile%dx%dAVX2", taps, strip)
	p("// func %s(y *float32, ys int, b *float32, x *float32, xs int, xr int, w *float32, wr int, c int, count int, rows int)", name)
	p("// The tile kernel for %d taps and strips of %d pixels (see %s).", taps, strip, see)
	p("TEXT ·%s(SB), NOSPLIT, $0-88", name)
	p("\tMOVQ ys+8(FP), R8")
	p("\tMOVQ xs+32(FP), R9")
	p("\tMOVQ xr+40(FP), R10")
	p("\tMOVQ w+48(FP), BX")
	p("\tMOVQ wr+56(FP), R13")
	p("\tMOVQ c+64(FP), R11")
	for _, r := range []string{"R8", "R9", "R10", "R13", "R11"} {
		p("\tSHLQ $2, %s", r)
	}
	return fmt.Sprintf("t%dx%d", taps, strip)
}

// stepped emits the access of element j (stride register st) from base through
// emit(addr): j = 0, 1, 2 directly, further ones from DX, which it steps by 2·st at
// j = 3, 5, 7, … (so the accesses of one run must come in increasing j from 0).
func stepped(j int, base, st string, emit func(addr string)) {
	switch j {
	case 0:
		emit("(" + base + ")")
		return
	case 1:
		emit("(" + base + ")(" + st + "*1)")
		return
	case 2:
		emit("(" + base + ")(" + st + "*2)")
		return
	case 3:
		p("\tLEAQ (%s)(%s*2), DX", base, st)
	default:
		if j%2 == 1 {
			p("\tLEAQ (DX)(%s*2), DX", st)
		}
	}
	if j%2 == 1 {
		emit("(DX)(" + st + "*1)")
	} else {
		emit("(DX)(" + st + "*2)")
	}
}

// direct3 writes conv3x3Tiles6x<8·nv>AVX2, tiles of 6 pixel rows by 8·nv columns one
// after the other: for tile t, rows i < 6 (pixel offsets o = offs[6t + i]) and columns
// j < 8·nv,
//
//	acc[i][j] = Σ over the pieces, in order, Σ_u a[o + d + u]·b[k][j]
//
// where a piece (d, n) of pieces (three of them, n = 0 ends the list early) runs u
// over [0, n) and k counts the products from 0 (b holds the weights packed as rows
// of 8·nv values, in the order of the pieces). Each sum starts from zero and adds its
// products one fused multiply-add at a time, in k order, as the GEMM microkernels do
// over one depth block. Then c[(6t + i)·ldc + j] = acc (add = 0) or c + acc (add = 1),
// and bias[j] is added last when bias is not nil: the rounding of a depth block of
// Sgemm with beta 0 or 1 and its bias epilogue. offs, d and ldc are in elements; the
// frame slots offs, tiles and c are advanced in place.
func direct3(nv int) {
	w := 8 * nv
	name := fmt.Sprintf("conv3x3Tiles6x%dAVX2", w)
	l := fmt.Sprintf("c3x%d", w)
	rows := []string{"R8", "R9", "R10", "R11", "R12", "R13"}
	p("// func %s(a *float32, offs *int, tiles int, pieces *[6]int, b *float32, c *float32, ldc int, add int, bias *float32)", name)
	p("// Tiles of 6 pixels by %d channels of the 3×3 convolution (see direct3 in conv_asmgen.go).", w)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tCMPQ tiles+16(FP), $0")
	p("\tJLE  %sdone", l)
	p("%stile:", l)
	p("\tMOVQ offs+8(FP), AX")
	for i, r := range rows {
		p("\tMOVQ %d(AX), %s", 8*i, r)
		p("\tSHLQ $2, %s", r)
	}
	p("\tMOVQ b+32(FP), BX")
	for i := 0; i < 6*nv; i++ {
		p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	p("\tMOVQ pieces+24(FP), R14")
	p("\tMOVQ $3, R15")
	p("%spiece:", l)
	p("\tMOVQ 8(R14), CX")
	p("\tTESTQ CX, CX")
	p("\tJZ   %sstore", l)
	p("\tMOVQ (R14), SI")
	p("\tSHLQ $2, SI")
	p("\tADDQ a+0(FP), SI")
	p("%sk:", l)
	for v := 0; v < nv; v++ {
		p("\tVMOVUPS %d(BX), Y%d", 32*v, 12+v)
	}
	for i, r := range rows {
		bc := 14 + i%2
		p("\tVBROADCASTSS (SI)(%s*1), Y%d", r, bc)
		for v := 0; v < nv; v++ {
			p("\tVFMADD231PS Y%d, Y%d, Y%d", bc, 12+v, i*nv+v)
		}
	}
	p("\tADDQ $4, SI")
	p("\tADDQ $%d, BX", 4*w)
	p("\tDECQ CX")
	p("\tJNZ  %sk", l)
	p("\tADDQ $16, R14")
	p("\tDECQ R15")
	p("\tJNZ  %spiece", l)
	p("%sstore:", l)
	p("\tMOVQ c+40(FP), DI")
	p("\tMOVQ ldc+48(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ bias+64(FP), CX")
	p("\tCMPQ add+56(FP), $0")
	p("\tJEQ  %sset", l)
	for _, add := range []bool{true, false} {
		if !add {
			p("%sset:", l)
		}
		p("\tTESTQ CX, CX")
		for _, biased := range []bool{false, true} {
			tag := fmt.Sprintf("%sadd%v", l, add)
			if biased {
				p("%sbias:", tag)
			} else {
				p("\tJNZ  %sbias", tag)
			}
			for i := 0; i < 6; i++ {
				if i > 0 {
					p("\tADDQ DX, DI")
				}
				for v := 0; v < nv; v++ {
					acc := i*nv + v
					if add {
						p("\tVADDPS %d(DI), Y%d, Y%d", 32*v, acc, acc)
					}
					if biased {
						p("\tVADDPS %d(CX), Y%d, Y%d", 32*v, acc, acc)
					}
					p("\tVMOVUPS Y%d, %d(DI)", acc, 32*v)
				}
			}
			p("\tJMP  %snext", l)
		}
	}
	p("%snext:", l)
	p("\tADDQ $48, offs+8(FP)")
	p("\tLEAQ (DX)(DX*2), AX")
	p("\tSHLQ $1, AX           // 6·ldc bytes")
	p("\tADDQ AX, c+40(FP)")
	p("\tDECQ tiles+16(FP)")
	p("\tJNZ  %stile", l)
	p("%sdone:", l)
	p("\tVZEROUPPER")
	p("\tRET")
}

func main() {
	p("// Code generated by conv_asmgen.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64")
	p("")
	p("#include \"textflag.h\"")
	p("")
	row(5)
	p("")
	row(3)
	p("")
	rowDot(5)
	p("")
	rowDot(3)
	for _, taps := range []int{5, 3} {
		p("")
		tile8(taps)
		for _, strip := range []int{4, 1} {
			p("")
			tile(taps, strip)
		}
	}
	for _, nv := range []int{2, 1} {
		p("")
		direct3(nv)
	}
	os.Stdout.WriteString(out.String())
}
