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
