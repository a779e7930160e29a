//go:build amd64

#include "textflag.h"

// func narrowBF16AVX2(dst *uint16, src *float32, n int)
// Rounds n float32 (a multiple of 16) to bf16, nearest even; a NaN keeps its sign
// and upper payload and gets the quiet bit (as BF16FromF32).
TEXT ·narrowBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ narrow_done
	MOVL $0x7fff, AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8
	MOVL $1, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y9
	MOVL $0x7fffffff, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $0x7f800000, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x00400000, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
narrow_loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VPSRLD $16, Y0, Y2
	VPAND Y9, Y2, Y2
	VPADDD Y8, Y2, Y2
	VPADDD Y0, Y2, Y2
	VPAND Y10, Y0, Y3
	VPCMPGTD Y11, Y3, Y3
	VPOR Y12, Y0, Y4
	VPBLENDVB Y3, Y4, Y2, Y2
	VPSRLD $16, Y2, Y2
	VPSRLD $16, Y1, Y5
	VPAND Y9, Y5, Y5
	VPADDD Y8, Y5, Y5
	VPADDD Y1, Y5, Y5
	VPAND Y10, Y1, Y6
	VPCMPGTD Y11, Y6, Y6
	VPOR Y12, Y1, Y7
	VPBLENDVB Y6, Y7, Y5, Y5
	VPSRLD $16, Y5, Y5
	VPACKUSDW Y5, Y2, Y2
	VPERMQ $0xD8, Y2, Y2
	VMOVDQU Y2, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ narrow_loop
	VZEROUPPER
narrow_done:
	RET

// func widenBF16AVX2(dst *float32, src *uint16, n int)
// Widens n bf16 values (a multiple of 16) to float32.
TEXT ·widenBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ widen_done
widen_loop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ widen_loop
	VZEROUPPER
widen_done:
	RET
