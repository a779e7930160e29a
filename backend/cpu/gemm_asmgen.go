//go:build ignore

// This program writes gemm_amd64.s, the SGEMM microkernels for amd64. Run it with
//
//	go run gemm_asmgen.go > gemm_amd64.s
//
// (or `go generate` in this directory). Each kernel computes one MR×NR tile
//
//	C[r][c] = alpha·Σ_p A[p][r]·B[p][c] + beta·C[r][c]     (beta == 0: C is not read)
//
// from a packed A micro-panel (kc groups of MR consecutive values) or, for the
// "Direct" kernels, MR rows of a row-major A read in place, and kc rows of NR values
// of B, ldb apart (a packed B micro-panel: ldb = NR). The accumulators stay in
// vector registers for the whole kc loop; one broadcast of an A value feeds
// NR/width FMAs. Once per loop iteration a kernel also prefetches one cache line
// of a 2-D region given by the driver (pf, pfLines, pfLd, pfRows) into L2. Kernels:
// AVX-512 14×32 and 8×48, AVX2+FMA 6×16; plus packRowsAVX, a B-packing copy loop,
// and sgemmKernelBF16AVX2, the 6×16 bf16 kernel of SgemmBF16 (emitBF16).
package main

import (
	"fmt"
	"os"
	"strings"
)

type kernel struct {
	name   string
	mr, nr int
	width  int    // float32 lanes per vector register
	reg    string // register prefix: "Z" or "Y"
	zero   string // instruction that zeroes a register with itself
	unroll int    // k steps per loop iteration
	// direct reads A unpacked, as mr rows of a row-major matrix with stride lda,
	// instead of from a packed micro-panel.
	direct bool
}

var out strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

func (k kernel) vecs() int { return k.nr / k.width }

// acc is the accumulator register of row r, vector v.
func (k kernel) acc(r, v int) string { return fmt.Sprintf("%s%d", k.reg, r*k.vecs()+v) }

// aAddr is the address of A[r][s] for the k step s of the current loop iteration.
// Packed: AX walks the panel. Direct: rows 0-4, 5-9 and 10-13 are addressed from the
// row pointers AX, R10 and R11 with the offsets 0, lda, 2·lda, 3·lda and 4·lda (R8
// holds lda in bytes and R9 3·lda).
func (k kernel) aAddr(r, s int) string {
	if !k.direct {
		return fmt.Sprintf("%d(AX)", (s*k.mr+r)*4)
	}
	base := []string{"AX", "R10", "R11"}[r/5]
	idx := []string{"", "(R8*1)", "(R8*2)", "(R9*1)", "(R8*4)"}[r%5]
	return fmt.Sprintf("%d(%s)%s", s*4, base, idx)
}

func (k kernel) emit() {
	nacc := k.mr * k.vecs()

	p("// func %s(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, pf *float32, pfLines, pfLd, pfRows int, alpha, beta float32)", k.name)
	if k.direct {
		p("// %d×%d tile from %d unpacked rows of A, %d accumulators.", k.mr, k.nr, k.mr, nacc)
	} else {
		p("// %d×%d tile from a packed A micro-panel (lda unused), %d accumulators.", k.mr, k.nr, nacc)
	}
	p("TEXT ·%s(SB), NOSPLIT, $0-96", k.name)
	p("\tMOVQ kc+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	if k.direct {
		p("\tMOVQ lda+16(FP), R8")
		p("\tSHLQ $2, R8")
		p("\tLEAQ (R8)(R8*2), R9")
		p("\tLEAQ (AX)(R8*4), R10")
		p("\tADDQ R8, R10")
		p("\tLEAQ (R10)(R8*4), R11")
		p("\tADDQ R8, R11")
	}
	p("\tMOVQ b+24(FP), BX")
	p("\tMOVQ ldb+32(FP), R12")
	p("\tSHLQ $2, R12")
	p("\tMOVQ c+40(FP), DI")
	p("\tMOVQ ldc+48(FP), DX")

	p("\tSHLQ $2, DX")
	// Prefetch the C tile so that the epilogue does not wait for it.
	p("\tMOVQ DI, SI")
	for r := 0; r < k.mr; r++ {
		for off := 0; off < k.nr*4; off += 64 {
			p("\tPREFETCHT0 %d(SI)", off)
		}
		if r < k.mr-1 {
			p("\tADDQ DX, SI")
		}
	}
	// Prefetch stream: pfRows rows of pfLines cache lines, pfLd bytes apart, from
	// pf; one line per loop iteration into L2. SI walks the rows (0 when done), R13
	// is the byte offset within the row, and pfLines+64(FP) is turned into bytes.
	p("\tXORQ R13, R13")
	p("\tXORQ SI, SI")
	p("\tCMPQ pfRows+80(FP), $0")
	p("\tJLE %s_pfoff", k.name)
	p("\tMOVQ pf+56(FP), SI")
	p("\tSHLQ $6, pfLines+64(FP)")
	p("%s_pfoff:", k.name)
	for i := 0; i < nacc; i++ {
		r := fmt.Sprintf("%s%d", k.reg, i)
		p("\t%s %s, %s, %s", k.zero, r, r, r)
	}
	step, advance := k.emitStep, k.emitAdvance
	u := k.unroll
	if u > 2 {
		panic("unroll > 2 needs more B addressing")
	}
	p("\tCMPQ CX, $%d", u)
	p("\tJLT %s_tail", k.name)
	p("%s_loop:", k.name)
	p("\tTESTQ SI, SI")
	p("\tJZ %s_nopf", k.name)
	p("\tPREFETCHT1 (SI)(R13*1)")
	p("\tADDQ $64, R13")
	p("\tCMPQ R13, pfLines+64(FP)")
	p("\tJLT %s_nopf", k.name)
	p("\tXORQ R13, R13")
	p("\tADDQ pfLd+72(FP), SI")
	p("\tDECQ pfRows+80(FP)")
	p("\tJNZ %s_nopf", k.name)
	p("\tXORQ SI, SI")
	p("%s_nopf:", k.name)
	for s := 0; s < u; s++ {
		step(s)
	}
	advance(u)
	p("\tSUBQ $%d, CX", u)
	p("\tCMPQ CX, $%d", u)
	p("\tJGE %s_loop", k.name)
	p("%s_tail:", k.name)
	p("\tTESTQ CX, CX")
	p("\tJZ %s_store", k.name)
	step(0)
	advance(1)
	p("\tDECQ CX")
	p("\tJMP %s_tail", k.name)
	p("%s_store:", k.name)
	k.emitStore(k.name, 88, "R8", "", func() {
		p("\tVZEROUPPER")
		p("\tRET")
	})
	p("")
}

// emitStep writes k step s (0 or 1 within a loop iteration): the B values at
// s·ldb(BX), one broadcast of A per row, the FMAs into the accumulators.
func (k kernel) emitStep(s int) {
	nv := k.vecs()
	nacc := k.mr * nv
	bReg := func(v int) string { return fmt.Sprintf("%s%d", k.reg, nacc+v) }
	aReg := func(r int) string { return fmt.Sprintf("%s%d", k.reg, nacc+nv+r%2) }
	for v := 0; v < nv; v++ {
		if s == 0 {
			p("\tVMOVUPS %d(BX), %s", v*k.width*4, bReg(v))
		} else {
			p("\tVMOVUPS %d(BX)(R12*1), %s", v*k.width*4, bReg(v))
		}
	}
	for r := 0; r < k.mr; r++ {
		p("\tVBROADCASTSS %s, %s", k.aAddr(r, s), aReg(r))
		for v := 0; v < nv; v++ {
			p("\tVFMADD231PS %s, %s, %s", aReg(r), bReg(v), k.acc(r, v))
		}
	}
}

// emitAdvance moves the A and B pointers on by steps k steps.
func (k kernel) emitAdvance(steps int) {
	if k.direct {
		p("\tADDQ $%d, AX", steps*4)
		p("\tADDQ $%d, R10", steps*4)
		p("\tADDQ $%d, R11", steps*4)
	} else {
		p("\tADDQ $%d, AX", steps*k.mr*4)
	}
	for range steps {
		p("\tADDQ R12, BX")
	}
}

// emitStore writes the tile from the accumulators to C at DI (rows DX bytes apart):
// alpha·acc + beta·C, or alpha·acc without reading C when beta is ±0. alpha and beta
// are the frame arguments at alphaOff and alphaOff+4; scratch is a free general
// register; done ends each of the three branches (beta ≠ 0, beta = 0, and beta = 0
// with alpha = 1, which leaves out the exact multiplication by alpha). When bias names a general register,
// the tile's nr column biases at that address are added last (each a separate
// rounding, as when they are added to the stored C).
func (k kernel) emitStore(name string, alphaOff int, scratch, bias string, done func()) {
	nv := k.vecs()
	nacc := k.mr * nv
	alphaReg := fmt.Sprintf("%s%d", k.reg, nacc+nv)
	betaReg := fmt.Sprintf("%s%d", k.reg, nacc+nv+1)
	vbytes := k.width * 4
	p("\tVBROADCASTSS alpha+%d(FP), %s", alphaOff, alphaReg)
	p("\tVBROADCASTSS beta+%d(FP), %s", alphaOff+4, betaReg)
	p("\tMOVL beta+%d(FP), %s", alphaOff+4, scratch)
	p("\tANDL $0x7fffffff, %s", scratch)
	p("\tJZ %s_beta0", name)
	// three branches: beta ≠ 0; beta = 0; beta = 0 and alpha = 1, where the
	// multiplication by alpha (exact) is left out
	for branch := range 3 {
		beta := branch == 0
		switch branch {
		case 1:
			p("%s_beta0:", name)
			p("\tMOVL alpha+%d(FP), %s", alphaOff, scratch)
			p("\tCMPL %s, $0x3f800000", scratch)
			p("\tJEQ %s_alpha1", name)
		case 2:
			p("%s_alpha1:", name)
		}
		for r := 0; r < k.mr; r++ {
			for v := 0; v < nv; v++ {
				a := k.acc(r, v)
				if branch < 2 {
					p("\tVMULPS %s, %s, %s", alphaReg, a, a)
				}
				if beta {
					p("\tVFMADD231PS %d(DI), %s, %s", v*vbytes, betaReg, a)
				}
				if bias != "" {
					p("\tVADDPS %d(%s), %s, %s", v*vbytes, bias, a, a)
				}
				p("\tVMOVUPS %s, %d(DI)", a, v*vbytes)
			}
			if r < k.mr-1 {
				p("\tADDQ DX, DI")
			}
		}
		done()
	}
}

// emitDirectRow writes <name>Row, the direct kernel for rows of tiles:
//
//	func(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bstride, tiles int, alpha, beta float32, bias *float32, panels, tiles0 int, bias0 *float32)
//
// computes, for each of panels row panels (MR rows of A and of C each, one after the
// other), tiles MR×NR tiles side by side, C columns NR·t onwards, from the panel's MR
// rows of A and the B micro-panels b + t·bstride (floats): one call for several row
// panels of all their tiles instead of one per tile, which is most of the cost of a
// tile when kc is small (1×1 convolutions of few channels). When bias is not nil,
// bias[j] is added to column j after alpha and beta (the bias of a convolution,
// without a second pass over C). tiles0 and bias0 must equal tiles and bias: the
// frame slots tiles, bias, a and c are advanced in place and tiles and bias restored
// from them for each panel. No prefetch stream.
func (k kernel) emitDirectRow() {
	name := k.name + "Row"
	nacc := k.mr * k.vecs()
	p("// func %s(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bstride, tiles int, alpha, beta float32, bias *float32, panels, tiles0 int, bias0 *float32)", name)
	p("// Rows of %d×%d tiles from %d unpacked rows of A each (see emitDirectRow).", k.mr, k.nr, k.mr)
	p("TEXT ·%s(SB), NOSPLIT, $0-112", name)
	p("\tCMPQ tiles+64(FP), $0")
	p("\tJLE %s_done", name)
	p("\tCMPQ panels+88(FP), $0")
	p("\tJLE %s_done", name)
	p("\tMOVQ lda+16(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tMOVQ ldb+32(FP), R12")
	p("\tSHLQ $2, R12")
	p("\tMOVQ ldc+48(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ bstride+56(FP), R13")
	p("\tSHLQ $2, R13")
	p("%s_panel:", name)
	p("\tMOVQ tiles0+96(FP), SI")
	p("\tMOVQ SI, tiles+64(FP)")
	p("\tMOVQ bias0+104(FP), SI")
	p("\tMOVQ SI, bias+80(FP)")
	p("\tMOVQ b+24(FP), R14")
	p("\tMOVQ c+40(FP), R15")
	p("%s_tile:", name)
	p("\tMOVQ kc+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tLEAQ (AX)(R8*4), R10")
	p("\tADDQ R8, R10")
	p("\tLEAQ (R10)(R8*4), R11")
	p("\tADDQ R8, R11")
	p("\tMOVQ R14, BX")
	p("\tMOVQ R15, DI")
	for i := 0; i < nacc; i++ {
		r := fmt.Sprintf("%s%d", k.reg, i)
		p("\t%s %s, %s, %s", k.zero, r, r, r)
	}
	step, advance := k.emitStep, k.emitAdvance
	p("\tCMPQ CX, $2")
	p("\tJLT %s_tail", name)
	p("%s_loop:", name)
	step(0)
	step(1)
	advance(2)
	p("\tSUBQ $2, CX")
	p("\tCMPQ CX, $2")
	p("\tJGE %s_loop", name)
	p("%s_tail:", name)
	p("\tTESTQ CX, CX")
	p("\tJZ %s_store", name)
	step(0)
	advance(1)
	p("%s_store:", name)
	// CX (the finished k counter) holds the bias pointer; with a bias the pointer in
	// the frame moves on by one tile.
	p("\tMOVQ bias+80(FP), CX")
	p("\tTESTQ CX, CX")
	p("\tJZ %s_nobias", name)
	k.emitStore(name+"Bias", 72, "SI", "CX", func() { p("\tJMP %s_biasnext", name) })
	p("%s_biasnext:", name)
	p("\tADDQ $%d, bias+80(FP)", k.nr*4)
	p("\tJMP %s_next", name)
	p("%s_nobias:", name)
	k.emitStore(name, 72, "SI", "", func() { p("\tJMP %s_next", name) })
	p("%s_next:", name)
	p("\tADDQ R13, R14")
	p("\tADDQ $%d, R15", k.nr*4)
	p("\tDECQ tiles+64(FP)")
	p("\tJNZ %s_tile", name)
	// the next row panel: MR rows of A and of C further
	p("\tMOVQ R8, SI")
	p("\tIMUL3Q $%d, SI, SI", k.mr)
	p("\tADDQ SI, a+8(FP)")
	p("\tMOVQ DX, SI")
	p("\tIMUL3Q $%d, SI, SI", k.mr)
	p("\tADDQ SI, c+40(FP)")
	p("\tDECQ panels+88(FP)")
	p("\tJNZ %s_panel", name)
	p("%s_done:", name)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by gemm_asmgen.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64")
	p("")
	p("#include \"textflag.h\"")
	p("")
	avx512 := kernel{name: "sgemmKernelAVX512", mr: 14, nr: 32, width: 16, reg: "Z", zero: "VPXORD", unroll: 2}
	avx2 := kernel{name: "sgemmKernelAVX2", mr: 6, nr: 16, width: 8, reg: "Y", zero: "VXORPS", unroll: 2}
	// 8×48 wastes no padding where the rows come in multiples of 8 (weight
	// gradients: output channels) and the columns in multiples of 48 (3×3×16·j).
	avx512w := kernel{name: "sgemmKernel8x48AVX512", mr: 8, nr: 48, width: 16, reg: "Z", zero: "VPXORD", unroll: 2}
	avx512.emit()
	avx512w.emit()
	avx2.emit()
	avx512.name, avx512.direct = "sgemmKernelDirectAVX512", true
	avx512w.name, avx512w.direct = "sgemmKernelDirect8x48AVX512", true
	avx2.name, avx2.direct = "sgemmKernelDirectAVX2", true
	avx512.emit()
	avx512w.emit()
	avx2.emit()
	avx2.emitDirectRow()
	out.WriteString(packRows)
	emitBF16()
	emitBF16Direct()
	os.Stdout.WriteString(out.String())
}

// packRows copies n pieces of width (16, 32 or 48) consecutive floats from src to
// dst, dstStride floats apart there: one row of B into the B micro-panels.
const packRows = `// func packRowsAVX(dst *float32, dstStride int, src *float32, n, width int)
TEXT ·packRowsAVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JZ packRows_done
	CMPQ width+32(FP), $32
	JEQ packRows_w32
	CMPQ width+32(FP), $48
	JEQ packRows_w48
packRows_w16:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $64, SI
	ADDQ DX, DI
	DECQ CX
	JNZ packRows_w16
	JMP packRows_done
packRows_w32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ DX, DI
	DECQ CX
	JNZ packRows_w32
	JMP packRows_done
packRows_w48:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS 128(SI), Y4
	VMOVUPS 160(SI), Y5
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	ADDQ $192, SI
	ADDQ DX, DI
	DECQ CX
	JNZ packRows_w48
packRows_done:
	VZEROUPPER
	RET
`

// emitBF16 writes sgemmKernelBF16AVX2, the 6×16 tile of SgemmBF16: A is a packed
// micro-panel of float32 values widened from bf16 when packed (6 rows of kc values,
// lda apart: each row is widened with one vector loop), B a packed micro-panel of
// bf16 values (kc groups of 16, 32 bytes). Each k step widens
// the 16 bf16 values of B into two registers (zero-extend each 16-bit value to 32
// bits, shift left by 16: exact) and does one FMA per product into the
// accumulators, in increasing k, so that every element is the sequence of single
// roundings SgemmBF16 specifies. The epilogue is the float32 kernels' (alpha·acc
// rounded, then one FMA with beta·C unless beta is ±0).
func emitBF16() {
	const name = "sgemmKernelBF16AVX2"
	acc := func(r, v int) string { return fmt.Sprintf("Y%d", 2*r+v) }
	p("")
	p("// func %s(kc int, a *float32, lda int, b *uint16, c *float32, ldc int, alpha, beta float32)", name)
	p("// 6×16 tile, packed float32 A micro-panel (rows lda apart), packed bf16 B micro-panel, 12 accumulators.")
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ kc+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tMOVQ lda+16(FP), R8")
	p("\tSHLQ $2, R8")
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tLEAQ (AX)(R8*4), R10")
	p("\tADDQ R8, R10")
	p("\tMOVQ b+24(FP), BX")
	p("\tMOVQ c+32(FP), DI")
	p("\tMOVQ ldc+40(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ DI, SI")
	for r := 0; r < 6; r++ {
		p("\tPREFETCHT0 (SI)")
		if r < 5 {
			p("\tADDQ DX, SI")
		}
	}
	for i := 0; i < 12; i++ {
		p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	step := func(s int) {
		p("\tVPMOVZXWD %d(BX), Y12", 32*s)
		p("\tVPMOVZXWD %d(BX), Y13", 32*s+16)
		p("\tVPSLLD $16, Y12, Y12")
		p("\tVPSLLD $16, Y13, Y13")
		for r := 0; r < 6; r++ {
			a := fmt.Sprintf("Y%d", 14+r%2)
			addr := []string{"(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)", "(AX)(R8*4)", "(R10)"}[r]
			p("\tVBROADCASTSS %d%s, %s", 4*s, addr, a)
			p("\tVFMADD231PS %s, Y12, %s", a, acc(r, 0))
			p("\tVFMADD231PS %s, Y13, %s", a, acc(r, 1))
		}
	}
	p("\tCMPQ CX, $2")
	p("\tJLT %s_tail", name)
	p("%s_loop:", name)
	step(0)
	step(1)
	p("\tADDQ $8, AX")
	p("\tADDQ $8, R10")
	p("\tADDQ $64, BX")
	p("\tSUBQ $2, CX")
	p("\tCMPQ CX, $2")
	p("\tJGE %s_loop", name)
	p("%s_tail:", name)
	p("\tTESTQ CX, CX")
	p("\tJZ %s_store", name)
	step(0)
	p("%s_store:", name)
	p("\tVBROADCASTSS alpha+48(FP), Y14")
	p("\tVBROADCASTSS beta+52(FP), Y15")
	p("\tMOVL beta+52(FP), R8")
	p("\tANDL $0x7fffffff, R8")
	p("\tJZ %s_beta0", name)
	for r := 0; r < 6; r++ {
		for v := 0; v < 2; v++ {
			p("\tVMULPS Y14, %s, %s", acc(r, v), acc(r, v))
			p("\tVFMADD231PS %d(DI), Y15, %s", 32*v, acc(r, v))
			p("\tVMOVUPS %s, %d(DI)", acc(r, v), 32*v)
		}
		if r < 5 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", name)
	for r := 0; r < 6; r++ {
		for v := 0; v < 2; v++ {
			p("\tVMULPS Y14, %s, %s", acc(r, v), acc(r, v))
			p("\tVMOVUPS %s, %d(DI)", acc(r, v), 32*v)
		}
		if r < 5 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
}

// emitBF16Direct writes sgemmKernelBF16DirectAVX2: sgemmKernelBF16AVX2 reading 6
// rows of a row-major bf16 A in place (lda elements apart) instead of a widened
// micro-panel, which saves the widening pass over A (most of the cost when n is
// small). A value a_p is widened by broadcasting the 32 bits at a_{p-1}, a_p (a_p
// is the upper half) and clearing the lower 16 bits: one load and one AND, which
// any vector pipe runs. The first step (p = 0) has no a_{-1} inside the row: it
// broadcasts the 16 bits of a_0 and shifts them up instead.
func emitBF16Direct() {
	const name = "sgemmKernelBF16DirectAVX2"
	acc := func(r, v int) string { return fmt.Sprintf("Y%d", 2*r+v) }
	rows := []string{"(AX)", "(AX)(R8*1)", "(AX)(R8*2)", "(AX)(R9*1)", "(AX)(R8*4)", "(R10)"}
	p("")
	p("DATA bf16HiMask<>+0(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+4(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+8(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+12(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+16(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+20(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+24(SB)/4, $0xffff0000")
	p("DATA bf16HiMask<>+28(SB)/4, $0xffff0000")
	p("GLOBL bf16HiMask<>(SB), RODATA|NOPTR, $32")
	p("")
	p("// func %s(kc int, a *uint16, lda int, b *uint16, c *float32, ldc int, alpha, beta float32)", name)
	p("// 6×16 tile, 6 unpacked bf16 rows of A (lda apart), packed bf16 B micro-panel, 12 accumulators.")
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ kc+0(FP), CX")
	p("\tMOVQ a+8(FP), AX")
	p("\tMOVQ lda+16(FP), R8")
	p("\tSHLQ $1, R8")
	p("\tLEAQ (R8)(R8*2), R9")
	p("\tLEAQ (AX)(R8*4), R10")
	p("\tADDQ R8, R10")
	p("\tMOVQ b+24(FP), BX")
	p("\tMOVQ c+32(FP), DI")
	p("\tMOVQ ldc+40(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ DI, SI")
	for r := 0; r < 6; r++ {
		p("\tPREFETCHT0 (SI)")
		if r < 5 {
			p("\tADDQ DX, SI")
		}
	}
	for i := 0; i < 12; i++ {
		p("\tVXORPS Y%d, Y%d, Y%d", i, i, i)
	}
	// step s of the current position: B at 32·s(BX), a_{p+s} widened.
	step := func(s int, first bool) {
		p("\tVPMOVZXWD %d(BX), Y12", 32*s)
		p("\tVPMOVZXWD %d(BX), Y13", 32*s+16)
		p("\tVPSLLD $16, Y12, Y12")
		p("\tVPSLLD $16, Y13, Y13")
		for r := 0; r < 6; r++ {
			a := fmt.Sprintf("Y%d", 14+r%2)
			if first {
				p("\tVPBROADCASTW %d%s, %s", 2*s, rows[r], a)
				p("\tVPSLLD $16, %s, %s", a, a)
			} else {
				p("\tVBROADCASTSS %d%s, %s", 2*s-2, rows[r], a)
				p("\tVPAND bf16HiMask<>(SB), %s, %s", a, a)
			}
			p("\tVFMADD231PS %s, Y12, %s", a, acc(r, 0))
			p("\tVFMADD231PS %s, Y13, %s", a, acc(r, 1))
		}
	}
	advance := func(steps int) {
		p("\tADDQ $%d, AX", 2*steps)
		p("\tADDQ $%d, R10", 2*steps)
		p("\tADDQ $%d, BX", 32*steps)
	}
	// kc ≥ 1: the first step, then pairs, then at most one more.
	step(0, true)
	advance(1)
	p("\tDECQ CX")
	p("\tCMPQ CX, $2")
	p("\tJLT %s_tail", name)
	p("%s_loop:", name)
	step(0, false)
	step(1, false)
	advance(2)
	p("\tSUBQ $2, CX")
	p("\tCMPQ CX, $2")
	p("\tJGE %s_loop", name)
	p("%s_tail:", name)
	p("\tTESTQ CX, CX")
	p("\tJZ %s_store", name)
	step(0, false)
	p("%s_store:", name)
	p("\tVBROADCASTSS alpha+48(FP), Y14")
	p("\tVBROADCASTSS beta+52(FP), Y15")
	p("\tMOVL beta+52(FP), R8")
	p("\tANDL $0x7fffffff, R8")
	p("\tJZ %s_beta0", name)
	for r := 0; r < 6; r++ {
		for v := 0; v < 2; v++ {
			p("\tVMULPS Y14, %s, %s", acc(r, v), acc(r, v))
			p("\tVFMADD231PS %d(DI), Y15, %s", 32*v, acc(r, v))
			p("\tVMOVUPS %s, %d(DI)", acc(r, v), 32*v)
		}
		if r < 5 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", name)
	for r := 0; r < 6; r++ {
		for v := 0; v < 2; v++ {
			p("\tVMULPS Y14, %s, %s", acc(r, v), acc(r, v))
			p("\tVMOVUPS %s, %d(DI)", acc(r, v), 32*v)
		}
		if r < 5 {
			p("\tADDQ DX, DI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
}
