//go:build amd64

#include "textflag.h"

// func dotF64AVX2(x, y *float32, n int) float64
// Four float64 accumulators of four lanes, 16 elements per iteration.
TEXT ·dotF64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	XORQ AX, AX
dotloop:
	VCVTPS2PD (SI)(AX*4), Y4
	VCVTPS2PD (DI)(AX*4), Y5
	VFMADD231PD Y4, Y5, Y0
	VCVTPS2PD 16(SI)(AX*4), Y6
	VCVTPS2PD 16(DI)(AX*4), Y7
	VFMADD231PD Y6, Y7, Y1
	VCVTPS2PD 32(SI)(AX*4), Y8
	VCVTPS2PD 32(DI)(AX*4), Y9
	VFMADD231PD Y8, Y9, Y2
	VCVTPS2PD 48(SI)(AX*4), Y10
	VCVTPS2PD 48(DI)(AX*4), Y11
	VFMADD231PD Y10, Y11, Y3
	ADDQ $16, AX
	CMPQ AX, CX
	JLT dotloop
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func axpyF64AVX2(a float64, x *float32, acc *float64, n int)
TEXT ·axpyF64AVX2(SB), NOSPLIT, $0-32
	VBROADCASTSD a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ acc+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
axpyloop:
	VCVTPS2PD (SI)(AX*4), Y1
	VCVTPS2PD 16(SI)(AX*4), Y2
	VMOVUPD (DI)(AX*8), Y3
	VMOVUPD 32(DI)(AX*8), Y4
	VFMADD231PD Y0, Y1, Y3
	VFMADD231PD Y0, Y2, Y4
	VMOVUPD Y3, (DI)(AX*8)
	VMOVUPD Y4, 32(DI)(AX*8)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT axpyloop
	VZEROUPPER
	RET

// func axpyF32AVX2(a float32, x, y *float32, n int)
// Separate multiply and add, as the scalar loop rounds.
TEXT ·axpyF32AVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
axpy32loop:
	VMULPS (SI)(AX*4), Y0, Y1
	VMULPS 32(SI)(AX*4), Y0, Y2
	VADDPS (DI)(AX*4), Y1, Y1
	VADDPS 32(DI)(AX*4), Y2, Y2
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, CX
	JLT axpy32loop
	VZEROUPPER
	RET

// func mulAddF64AVX2(x, y *float32, acc *float64, n int)
// The float32 products are exact in float64, so the fused multiply-add rounds once,
// like the separate product and sum.
TEXT ·mulAddF64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ acc+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
muladd64loop:
	VCVTPS2PD   (SI)(AX*4), Y1
	VCVTPS2PD   16(SI)(AX*4), Y2
	VCVTPS2PD   (DX)(AX*4), Y5
	VCVTPS2PD   16(DX)(AX*4), Y6
	VMOVUPD     (DI)(AX*8), Y3
	VMOVUPD     32(DI)(AX*8), Y4
	VFMADD231PD Y5, Y1, Y3
	VFMADD231PD Y6, Y2, Y4
	VMOVUPD     Y3, (DI)(AX*8)
	VMOVUPD     Y4, 32(DI)(AX*8)
	ADDQ        $8, AX
	CMPQ        AX, CX
	JLT         muladd64loop
	VZEROUPPER
	RET

// func mulAddF32AVX2(x, y, z *float32, n int)
// Separate multiply and add, as the scalar loop rounds.
TEXT ·mulAddF32AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ z+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
muladd32loop:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMULPS  (DX)(AX*4), Y1, Y1
	VMULPS  32(DX)(AX*4), Y2, Y2
	VADDPS  (DI)(AX*4), Y1, Y1
	VADDPS  32(DI)(AX*4), Y2, Y2
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	ADDQ    $16, AX
	CMPQ    AX, CX
	JLT     muladd32loop
	VZEROUPPER
	RET

// func mulF32AVX2(x, y, z *float32, n int)
TEXT ·mulF32AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ z+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
mul32loop:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMULPS  (DX)(AX*4), Y1, Y1
	VMULPS  32(DX)(AX*4), Y2, Y2
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	ADDQ    $16, AX
	CMPQ    AX, CX
	JLT     mul32loop
	VZEROUPPER
	RET

// func bilerpF32AVX2(d, t0, t1, u0, u1 *float32, n int, a0, a1, b0, b1 float32)
TEXT ·bilerpF32AVX2(SB), NOSPLIT, $0-64
	MOVQ d+0(FP), DI
	MOVQ t0+8(FP), SI
	MOVQ t1+16(FP), DX
	MOVQ u0+24(FP), R8
	MOVQ u1+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSS a0+48(FP), Y12
	VBROADCASTSS a1+52(FP), Y13
	VBROADCASTSS b0+56(FP), Y14
	VBROADCASTSS b1+60(FP), Y15
	XORQ AX, AX
bilerploop:
	VMULPS  (SI)(AX*4), Y14, Y0
	VMULPS  (DX)(AX*4), Y15, Y1
	VADDPS  Y1, Y0, Y0
	VMULPS  (R8)(AX*4), Y14, Y2
	VMULPS  (R9)(AX*4), Y15, Y3
	VADDPS  Y3, Y2, Y2
	VMULPS  Y12, Y0, Y0
	VMULPS  Y13, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     bilerploop
	VZEROUPPER
	RET

// func subF32AVX2(x, y, z *float32, n int)
TEXT ·subF32AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ z+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
sub32loop:
	VMOVUPS (SI)(AX*4), Y1
	VSUBPS  (DX)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     sub32loop
	VZEROUPPER
	RET

// func divF32AVX2(x, y, z *float32, n int)
TEXT ·divF32AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ z+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
div32loop:
	VMOVUPS (SI)(AX*4), Y1
	VDIVPS  (DX)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     div32loop
	VZEROUPPER
	RET

// func divScalarF32AVX2(x *float32, s float32, z *float32, n int)
TEXT ·divScalarF32AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	VBROADCASTSS s+8(FP), Y0
	MOVQ         z+16(FP), DI
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
divs32loop:
	VMOVUPS (SI)(AX*4), Y1
	VDIVPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     divs32loop
	VZEROUPPER
	RET

// func scaleF32AVX2(x *float32, s float32, z *float32, n int)
TEXT ·scaleF32AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	VBROADCASTSS s+8(FP), Y0
	MOVQ         z+16(FP), DI
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
scale32loop:
	VMULPS  (SI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     scale32loop
	VZEROUPPER
	RET

// func bilerpRowF32AVX2(d, top, bot *float32, taps *int, wts *float32, count, c int, a0, a1 float32)
//
// A row of BilerpF32 calls: for pixel j < count, with byte offsets o0 = taps[2j],
// o1 = taps[2j+1] into the rows top and bot and weights b0 = wts[2j], b1 = wts[2j+1],
// the c channels (a positive multiple of 8) at d + j·c are
// a0·(b0·top[o0] + b1·top[o1]) + a1·(b0·bot[o0] + b1·bot[o1]), in bilerpF32AVX2's order.
TEXT ·bilerpRowF32AVX2(SB), NOSPLIT, $0-64
	MOVQ         d+0(FP), DI
	MOVQ         top+8(FP), SI
	MOVQ         bot+16(FP), DX
	MOVQ         taps+24(FP), R8
	MOVQ         wts+32(FP), R9
	MOVQ         count+40(FP), R10
	MOVQ         c+48(FP), R11
	SHLQ         $2, R11
	VBROADCASTSS a0+56(FP), Y12
	VBROADCASTSS a1+60(FP), Y13
	TESTQ        R10, R10
	JLE          bilerprowdone
bilerprowpixel:
	MOVQ         0(R8), R12
	MOVQ         8(R8), R13
	VBROADCASTSS 0(R9), Y14
	VBROADCASTSS 4(R9), Y15
	LEAQ         (SI)(R12*1), AX
	LEAQ         (SI)(R13*1), BX
	LEAQ         (DX)(R12*1), CX
	LEAQ         (DX)(R13*1), R14
	XORQ         R15, R15
bilerprowvec:
	VMULPS  (AX)(R15*1), Y14, Y0
	VMULPS  (BX)(R15*1), Y15, Y1
	VADDPS  Y1, Y0, Y0
	VMULPS  (CX)(R15*1), Y14, Y2
	VMULPS  (R14)(R15*1), Y15, Y3
	VADDPS  Y3, Y2, Y2
	VMULPS  Y12, Y0, Y0
	VMULPS  Y13, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)(R15*1)
	ADDQ    $32, R15
	CMPQ    R15, R11
	JLT     bilerprowvec
	ADDQ    R11, DI
	ADDQ    $16, R8
	ADDQ    $8, R9
	DECQ    R10
	JNZ     bilerprowpixel
bilerprowdone:
	VZEROUPPER
	RET

// func addScalarF32AVX2(x *float32, s float32, z *float32, n int)
TEXT ·addScalarF32AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	VBROADCASTSS s+8(FP), Y0
	MOVQ         z+16(FP), DI
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
adds32loop:
	VADDPS  (SI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     adds32loop
	VZEROUPPER
	RET

// func addF32AVX2(x, y, z *float32, n int)
TEXT ·addF32AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ z+16(FP), DI
	MOVQ n+24(FP), CX
	XORQ AX, AX
add32loop:
	VMOVUPS (SI)(AX*4), Y1
	VADDPS  (DX)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ    $8, AX
	CMPQ    AX, CX
	JLT     add32loop
	VZEROUPPER
	RET

// func mulScaleAddF32AVX2(x, y, a *float32, k float32, z *float32, n int)
// z = a + k·(x·y), the two products and the sum each rounded (no fused multiply-add).
TEXT ·mulScaleAddF32AVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ a+16(FP), R8
	VBROADCASTSS k+24(FP), Y0
	MOVQ z+32(FP), DI
	MOVQ n+40(FP), CX
	XORQ AX, AX
	CMPQ CX, $16
	JLT  msa8
msa16loop:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMULPS  (DX)(AX*4), Y1, Y1
	VMULPS  32(DX)(AX*4), Y2, Y2
	VMULPS  Y0, Y1, Y1
	VMULPS  Y0, Y2, Y2
	VADDPS  (R8)(AX*4), Y1, Y1
	VADDPS  32(R8)(AX*4), Y2, Y2
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	ADDQ    $16, AX
	LEAQ    16(AX), BX
	CMPQ    BX, CX
	JLE     msa16loop
msa8:
	CMPQ    AX, CX
	JGE     msadone
	VMOVUPS (SI)(AX*4), Y1
	VMULPS  (DX)(AX*4), Y1, Y1
	VMULPS  Y0, Y1, Y1
	VADDPS  (R8)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
msadone:
	VZEROUPPER
	RET

// func addRows8F32AVX2(acc, x *float32, rows, c int)
//
// acc[j] += x[r·c + j] for r = 0, 1, … rows−1 in order, j < c, c a multiple of 8 up
// to 64: the c sums stay in Y0–Y7 over all the rows.
TEXT ·addRows8F32AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ c+24(FP), DX
	SHRQ $3, DX           // vectors per row, 1 … 8
	MOVQ DX, AX
	SHLQ $5, AX           // row bytes
	CMPQ DX, $4
	JG   ar8wide
	// up to 4 vectors per row: Y0 … Y(DX−1)
	VMOVUPS (DI), Y0
	CMPQ DX, $1
	JEQ  ar1loop
	VMOVUPS 32(DI), Y1
	CMPQ DX, $2
	JEQ  ar2loop
	VMOVUPS 64(DI), Y2
	CMPQ DX, $3
	JEQ  ar3loop
	VMOVUPS 96(DI), Y3
ar4loop:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar4loop
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
ar3loop:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar3loop
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
ar2loop:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar2loop
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
ar1loop:
	VADDPS (SI), Y0, Y0
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar1loop
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
ar8wide:
	// 5 … 8 vectors: all eight registers, the row read in two halves of 4 and DX−4
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	CMPQ    DX, $6
	JLT     ar8go
	VMOVUPS 160(DI), Y5
	CMPQ    DX, $7
	JLT     ar8go
	VMOVUPS 192(DI), Y6
	CMPQ    DX, $8
	JLT     ar8go
	VMOVUPS 224(DI), Y7
ar8go:
	CMPQ DX, $8
	JEQ  ar8loop8
	CMPQ DX, $7
	JEQ  ar8loop7
	CMPQ DX, $6
	JEQ  ar8loop6
ar8loop5:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar8loop5
	JMP    ar8store
ar8loop6:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar8loop6
	JMP    ar8store
ar8loop7:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar8loop7
	JMP    ar8store
ar8loop8:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	VADDPS 224(SI), Y7, Y7
	ADDQ   AX, SI
	DECQ   CX
	JNZ    ar8loop8
ar8store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	CMPQ    DX, $6
	JLT     ar8done
	VMOVUPS Y5, 160(DI)
	CMPQ    DX, $7
	JLT     ar8done
	VMOVUPS Y6, 192(DI)
	CMPQ    DX, $8
	JLT     ar8done
	VMOVUPS Y7, 224(DI)
ar8done:
	VZEROUPPER
	RET
