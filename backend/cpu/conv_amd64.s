#include "textflag.h"

// Depthwise convolution inner kernels, AVX-512F. Strides are in float32 elements.
// Channel tails (c not a multiple of 16) use masked loads and stores, which never
// touch memory outside the mask.

// func dwMulAddAVX512(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)
// for j < count, i < c: dst[j*ds+i] += src[j*ss+i] * w[i]
TEXT ·dwMulAddAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ ss+24(FP), R9
	MOVQ w+32(FP), DX
	MOVQ c+40(FP), R11
	MOVQ count+48(FP), BX
	SHLQ $2, R8
	SHLQ $2, R9
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, R10
	SHLL CX, R10
	DECL R10
	KMOVW R10, K1          // mask of the channel tail
	MOVQ R11, R12
	ANDQ $-16, R12
	SHLQ $2, R12           // bytes covered by full vectors
	TESTQ BX, BX
	JLE  mdone

mloopj:
	XORQ AX, AX
	MOVQ R12, R13
	SUBQ $128, R13
	JL   mloop16

mloop32:
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS 64(SI)(AX*1), Z2
	VMOVUPS (DI)(AX*1), Z1
	VMOVUPS 64(DI)(AX*1), Z3
	VFMADD231PS (DX)(AX*1), Z0, Z1
	VFMADD231PS 64(DX)(AX*1), Z2, Z3
	VMOVUPS Z1, (DI)(AX*1)
	VMOVUPS Z3, 64(DI)(AX*1)
	ADDQ $128, AX
	CMPQ AX, R13
	JLE  mloop32

mloop16:
	CMPQ AX, R12
	JGE  mtail
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS (DI)(AX*1), Z1
	VFMADD231PS (DX)(AX*1), Z0, Z1
	VMOVUPS Z1, (DI)(AX*1)
	ADDQ $64, AX

mtail:
	KORTESTW K1, K1
	JZ   mnext
	VMOVUPS.Z (SI)(AX*1), K1, Z0
	VMOVUPS.Z (DI)(AX*1), K1, Z1
	VMOVUPS.Z (DX)(AX*1), K1, Z2
	VFMADD231PS Z2, Z0, Z1
	VMOVUPS Z1, K1, (DI)(AX*1)

mnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ  mloopj

mdone:
	VZEROUPPER
	RET

// func dwDotAddAVX512(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)
// for i < c: acc[i] += sum_{j<count} a[j*sa+i] * b[j*sb+i]
TEXT ·dwDotAddAVX512(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), R8
	MOVQ b+24(FP), DX
	MOVQ sb+32(FP), R9
	MOVQ c+40(FP), R11
	MOVQ count+48(FP), BX
	SHLQ $2, R8
	SHLQ $2, R9
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, R10
	SHLL CX, R10
	DECL R10
	KMOVW R10, K1
	MOVQ R11, R12
	ANDQ $-16, R12
	SHLQ $2, R12           // bytes covered by full vectors
	TESTQ BX, BX
	JLE  ddone
	XORQ AX, AX            // byte offset of the channel block

dblock64:
	MOVQ R12, R13
	SUBQ AX, R13
	CMPQ R13, $256
	JL   dblock16
	VMOVUPS (DI)(AX*1), Z0
	VMOVUPS 64(DI)(AX*1), Z1
	VMOVUPS 128(DI)(AX*1), Z2
	VMOVUPS 192(DI)(AX*1), Z3
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

dloop64:
	VMOVUPS (R14), Z4
	VMOVUPS 64(R14), Z5
	VMOVUPS 128(R14), Z6
	VMOVUPS 192(R14), Z7
	VFMADD231PS (R15), Z4, Z0
	VFMADD231PS 64(R15), Z5, Z1
	VFMADD231PS 128(R15), Z6, Z2
	VFMADD231PS 192(R15), Z7, Z3
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  dloop64
	VMOVUPS Z0, (DI)(AX*1)
	VMOVUPS Z1, 64(DI)(AX*1)
	VMOVUPS Z2, 128(DI)(AX*1)
	VMOVUPS Z3, 192(DI)(AX*1)
	ADDQ $256, AX
	JMP  dblock64

dblock16:
	CMPQ AX, R12
	JGE  dtail
	VMOVUPS (DI)(AX*1), Z0
	VXORPS Z1, Z1, Z1
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

dloop16:
	VMOVUPS (R14), Z4
	VFMADD231PS (R15), Z4, Z0
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JZ   dend16
	VMOVUPS (R14), Z5
	VFMADD231PS (R15), Z5, Z1
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  dloop16

dend16:
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	JMP  dblock16

dtail:
	KORTESTW K1, K1
	JZ   ddone
	VMOVUPS.Z (DI)(AX*1), K1, Z0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

dlooptail:
	VMOVUPS.Z (R14), K1, Z4
	VMOVUPS.Z (R15), K1, Z5
	VFMADD231PS Z5, Z4, Z0
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  dlooptail
	VMOVUPS Z0, K1, (DI)(AX*1)

ddone:
	VZEROUPPER
	RET

// func convAddAVX512(dst *float32, src *float32, n int)
// for i < n: dst[i] += src[i]
TEXT ·convAddAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), R11
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, R10
	SHLL CX, R10
	DECL R10
	KMOVW R10, K1
	MOVQ R11, R12
	ANDQ $-16, R12
	SHLQ $2, R12
	XORQ AX, AX
	MOVQ R12, R13
	SUBQ $256, R13
	JL   aloop16

aloop64:
	VMOVUPS (DI)(AX*1), Z0
	VMOVUPS 64(DI)(AX*1), Z1
	VMOVUPS 128(DI)(AX*1), Z2
	VMOVUPS 192(DI)(AX*1), Z3
	VADDPS (SI)(AX*1), Z0, Z0
	VADDPS 64(SI)(AX*1), Z1, Z1
	VADDPS 128(SI)(AX*1), Z2, Z2
	VADDPS 192(SI)(AX*1), Z3, Z3
	VMOVUPS Z0, (DI)(AX*1)
	VMOVUPS Z1, 64(DI)(AX*1)
	VMOVUPS Z2, 128(DI)(AX*1)
	VMOVUPS Z3, 192(DI)(AX*1)
	ADDQ $256, AX
	CMPQ AX, R13
	JLE  aloop64

aloop16:
	CMPQ AX, R12
	JGE  atail
	VMOVUPS (DI)(AX*1), Z0
	VADDPS (SI)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	JMP  aloop16

atail:
	KORTESTW K1, K1
	JZ   adone
	VMOVUPS.Z (DI)(AX*1), K1, Z0
	VMOVUPS.Z (SI)(AX*1), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*1)

adone:
	VZEROUPPER
	RET

// AVX2+FMA versions of the same kernels: 8-wide vectors, scalar channel tails.

// func dwMulAddAVX2(dst *float32, ds int, src *float32, ss int, w *float32, c int, count int)
TEXT ·dwMulAddAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ ss+24(FP), R9
	MOVQ w+32(FP), DX
	MOVQ c+40(FP), R11
	MOVQ count+48(FP), BX
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R11           // bytes per row
	MOVQ R11, R12
	ANDQ $-32, R12         // bytes covered by full vectors
	TESTQ BX, BX
	JLE  m2done

m2loopj:
	XORQ AX, AX
	MOVQ R12, R13
	SUBQ $64, R13
	JL   m2loop8

m2loop16:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y2
	VMOVUPS (DI)(AX*1), Y1
	VMOVUPS 32(DI)(AX*1), Y3
	VFMADD231PS (DX)(AX*1), Y0, Y1
	VFMADD231PS 32(DX)(AX*1), Y2, Y3
	VMOVUPS Y1, (DI)(AX*1)
	VMOVUPS Y3, 32(DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, R13
	JLE  m2loop16

m2loop8:
	CMPQ AX, R12
	JGE  m2tail
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS (DI)(AX*1), Y1
	VFMADD231PS (DX)(AX*1), Y0, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX

m2tail:
	CMPQ AX, R11
	JGE  m2next
	VMOVSS (SI)(AX*1), X0
	VMOVSS (DI)(AX*1), X1
	VFMADD231SS (DX)(AX*1), X0, X1
	VMOVSS X1, (DI)(AX*1)
	ADDQ $4, AX
	JMP  m2tail

m2next:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ  m2loopj

m2done:
	VZEROUPPER
	RET

// func dwDotAddAVX2(acc *float32, a *float32, sa int, b *float32, sb int, c int, count int)
TEXT ·dwDotAddAVX2(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), R8
	MOVQ b+24(FP), DX
	MOVQ sb+32(FP), R9
	MOVQ c+40(FP), R11
	MOVQ count+48(FP), BX
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R11           // bytes per row
	MOVQ R11, R12
	ANDQ $-32, R12         // bytes covered by full vectors
	TESTQ BX, BX
	JLE  d2done
	XORQ AX, AX

d2block32:
	MOVQ R12, R13
	SUBQ AX, R13
	CMPQ R13, $128
	JL   d2block8
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

d2loop32:
	VMOVUPS (R14), Y4
	VMOVUPS 32(R14), Y5
	VMOVUPS 64(R14), Y6
	VMOVUPS 96(R14), Y7
	VFMADD231PS (R15), Y4, Y0
	VFMADD231PS 32(R15), Y5, Y1
	VFMADD231PS 64(R15), Y6, Y2
	VFMADD231PS 96(R15), Y7, Y3
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  d2loop32
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	SUBQ $-128, AX
	JMP  d2block32

d2block8:
	CMPQ AX, R12
	JGE  d2tail
	VMOVUPS (DI)(AX*1), Y0
	VXORPS Y1, Y1, Y1
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

d2loop8:
	VMOVUPS (R14), Y4
	VFMADD231PS (R15), Y4, Y0
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JZ   d2end8
	VMOVUPS (R14), Y5
	VFMADD231PS (R15), Y5, Y1
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  d2loop8

d2end8:
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  d2block8

d2tail:
	CMPQ AX, R11
	JGE  d2done
	VMOVSS (DI)(AX*1), X0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ BX, CX

d2looptail:
	VMOVSS (R14), X4
	VFMADD231SS (R15), X4, X0
	ADDQ R8, R14
	ADDQ R9, R15
	DECQ CX
	JNZ  d2looptail
	VMOVSS X0, (DI)(AX*1)
	ADDQ $4, AX
	JMP  d2tail

d2done:
	VZEROUPPER
	RET

// func convAddAVX2(dst *float32, src *float32, n int)
TEXT ·convAddAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), R11
	SHLQ $2, R11
	MOVQ R11, R12
	ANDQ $-32, R12
	XORQ AX, AX
	MOVQ R12, R13
	SUBQ $128, R13
	JL   a2loop8

a2loop32:
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	VADDPS (SI)(AX*1), Y0, Y0
	VADDPS 32(SI)(AX*1), Y1, Y1
	VADDPS 64(SI)(AX*1), Y2, Y2
	VADDPS 96(SI)(AX*1), Y3, Y3
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	SUBQ $-128, AX
	CMPQ AX, R13
	JLE  a2loop32

a2loop8:
	CMPQ AX, R12
	JGE  a2tail
	VMOVUPS (DI)(AX*1), Y0
	VADDPS (SI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  a2loop8

a2tail:
	CMPQ AX, R11
	JGE  a2done
	VMOVSS (DI)(AX*1), X0
	VADDSS (SI)(AX*1), X0, X0
	VMOVSS X0, (DI)(AX*1)
	ADDQ $4, AX
	JMP  a2tail

a2done:
	VZEROUPPER
	RET

// func dwRowAVX512(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int, kw int)
// for j < count, i < c: y[j*ys+i] += sum_{k<kw} x[j*xs + k*xk + i] * w[k*ws + i]
// (xk may be negative). The accumulators stay in registers across the kw taps.
TEXT ·dwRowAVX512(SB), NOSPLIT, $0-80
	MOVQ y+0(FP), DI
	MOVQ ys+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ xs+24(FP), R9
	MOVQ w+32(FP), DX
	MOVQ xk+48(FP), R10
	MOVQ c+56(FP), R13
	MOVQ count+64(FP), BX
	MOVQ kw+72(FP), R12
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	MOVQ R13, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1           // mask of the channel tail
	MOVQ R13, R11
	ANDQ $-16, R11
	SHLQ $2, R11           // bytes covered by full vectors
	MOVQ ws+40(FP), R13
	SHLQ $2, R13           // bytes per tap of w
	TESTQ BX, BX
	JLE  rdone
	TESTQ R12, R12
	JLE  rdone

rloopj:
	XORQ AX, AX

rblock64:
	LEAQ 256(AX), CX
	CMPQ CX, R11
	JG   rblock16
	VMOVUPS (DI)(AX*1), Z0
	VMOVUPS 64(DI)(AX*1), Z1
	VMOVUPS 128(DI)(AX*1), Z2
	VMOVUPS 192(DI)(AX*1), Z3
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

rloop64:
	VMOVUPS (R14), Z4
	VMOVUPS 64(R14), Z5
	VMOVUPS 128(R14), Z6
	VMOVUPS 192(R14), Z7
	VFMADD231PS (R15), Z4, Z0
	VFMADD231PS 64(R15), Z5, Z1
	VFMADD231PS 128(R15), Z6, Z2
	VFMADD231PS 192(R15), Z7, Z3
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  rloop64
	VMOVUPS Z0, (DI)(AX*1)
	VMOVUPS Z1, 64(DI)(AX*1)
	VMOVUPS Z2, 128(DI)(AX*1)
	VMOVUPS Z3, 192(DI)(AX*1)
	ADDQ $256, AX
	JMP  rblock64

rblock16:
	CMPQ AX, R11
	JGE  rtail
	VMOVUPS (DI)(AX*1), Z0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

rloop16:
	VMOVUPS (R14), Z4
	VFMADD231PS (R15), Z4, Z0
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  rloop16
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ $64, AX
	JMP  rblock16

rtail:
	KORTESTW K1, K1
	JZ   rnext
	VMOVUPS.Z (DI)(AX*1), K1, Z0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

rlooptail:
	VMOVUPS.Z (R14), K1, Z4
	VMOVUPS.Z (R15), K1, Z5
	VFMADD231PS Z5, Z4, Z0
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  rlooptail
	VMOVUPS Z0, K1, (DI)(AX*1)

rnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ  rloopj

rdone:
	VZEROUPPER
	RET

// func dwRowAVX2(y *float32, ys int, x *float32, xs int, w *float32, ws int, xk int, c int, count int, kw int)
// The AVX2+FMA version of dwRowAVX512: 8-wide vectors, scalar channel tail.
TEXT ·dwRowAVX2(SB), NOSPLIT, $0-80
	MOVQ y+0(FP), DI
	MOVQ ys+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ xs+24(FP), R9
	MOVQ w+32(FP), DX
	MOVQ ws+40(FP), R13
	MOVQ xk+48(FP), R10
	MOVQ c+56(FP), R11
	MOVQ count+64(FP), BX
	MOVQ kw+72(FP), R12
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R13
	SHLQ $2, R10
	SHLQ $2, R11           // bytes per pixel row
	TESTQ BX, BX
	JLE  q2done
	TESTQ R12, R12
	JLE  q2done

q2loopj:
	XORQ AX, AX

q2block32:
	LEAQ 128(AX), CX
	CMPQ CX, R11
	JG   q2block8
	VMOVUPS (DI)(AX*1), Y0
	VMOVUPS 32(DI)(AX*1), Y1
	VMOVUPS 64(DI)(AX*1), Y2
	VMOVUPS 96(DI)(AX*1), Y3
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

q2loop32:
	VMOVUPS (R14), Y4
	VMOVUPS 32(R14), Y5
	VMOVUPS 64(R14), Y6
	VMOVUPS 96(R14), Y7
	VFMADD231PS (R15), Y4, Y0
	VFMADD231PS 32(R15), Y5, Y1
	VFMADD231PS 64(R15), Y6, Y2
	VFMADD231PS 96(R15), Y7, Y3
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  q2loop32
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	SUBQ $-128, AX
	JMP  q2block32

q2block8:
	LEAQ 32(AX), CX
	CMPQ CX, R11
	JG   q2tail
	VMOVUPS (DI)(AX*1), Y0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

q2loop8:
	VMOVUPS (R14), Y4
	VFMADD231PS (R15), Y4, Y0
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  q2loop8
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  q2block8

q2tail:
	CMPQ AX, R11
	JGE  q2next
	VMOVSS (DI)(AX*1), X0
	LEAQ (SI)(AX*1), R14
	LEAQ (DX)(AX*1), R15
	MOVQ R12, CX

q2looptail:
	VMOVSS (R14), X4
	VFMADD231SS (R15), X4, X0
	ADDQ R10, R14
	ADDQ R13, R15
	DECQ CX
	JNZ  q2looptail
	VMOVSS X0, (DI)(AX*1)
	ADDQ $4, AX
	JMP  q2tail

q2next:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ BX
	JNZ  q2loopj

q2done:
	VZEROUPPER
	RET
