//go:build amd64

#include "textflag.h"
#include "vmath_amd64.h"

// Vectorised float32 exp-family kernels (see vmath.go for the algorithms,
// vmath_amd64.h for the constants and macros and vmath_amd64.go for the Go
// declarations).

// ---------------------------------------------------------------- AVX-512

// func vmExpAVX512(dst, src *float32, n int)
TEXT ·vmExpAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   expdone
	LOADC512
exploop:
	VMOVUPS (SI), Z0
	VMAXPS  Z0, Z21, Z0
	VMINPS  Z0, Z20, Z0
	EXP512(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     exploop
expdone:
	VZEROUPPER
	RET

// func vmSigmoidAVX512(dst, src *float32, n int)
TEXT ·vmSigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   sigdone
	LOADC512
sigloop:
	VMOVUPS (SI), Z0
	SIGMOID512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     sigloop
sigdone:
	VZEROUPPER
	RET

// func vmSwishAVX512(dst, src *float32, n int)
TEXT ·vmSwishAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   swdone
	LOADC512
swloop:
	VMOVUPS (SI), Z0
	SWISH512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     swloop
swdone:
	VZEROUPPER
	RET

// func vmSwishBackAVX512(gx, gy, x *float32, n int)
TEXT ·vmSwishBackAVX512(SB), NOSPLIT, $0-32
	MOVQ gx+0(FP), DI
	MOVQ gy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   swbdone
	LOADC512
swbloop:
	VMOVUPS (SI), Z0
	SWISHGRAD512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8)
	VMOVUPS     (DI), Z8
	VFMADD231PS (DX), Z1, Z8
	VMOVUPS     Z8, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, DI
	DECQ        CX
	JNZ         swbloop
swbdone:
	VZEROUPPER
	RET

// func vmELUBackAVX512(gx, gy, x, y *float32, n int)
// gx[i] += gy[i]·f with f = 1 where x[i] > 0 and y[i] + 1 otherwise (separate multiply
// and add, as the portable kernel rounds).
TEXT ·vmELUBackAVX512(SB), NOSPLIT, $0-40
	MOVQ         gx+0(FP), DI
	MOVQ         gy+8(FP), DX
	MOVQ         x+16(FP), SI
	MOVQ         y+24(FP), BX
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           elubdone
	VBROADCASTSS vmc<>+288(SB), Z1
	VXORPS       Z2, Z2, Z2
elubloop:
	VMOVUPS   (SI), Z0
	VADDPS    (BX), Z1, Z3
	VCMPPS    $14, Z2, Z0, K1
	VBLENDMPS Z1, Z3, K1, Z3
	VMULPS    (DX), Z3, Z3
	VADDPS    (DI), Z3, Z3
	VMOVUPS   Z3, (DI)
	ADDQ      $64, SI
	ADDQ      $64, BX
	ADDQ      $64, DX
	ADDQ      $64, DI
	DECQ      CX
	JNZ       elubloop
elubdone:
	VZEROUPPER
	RET

// func vmELUAVX512(dst, src *float32, n int)
TEXT ·vmELUAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   eludone
	LOADC512
eluloop:
	VMOVUPS     (SI), Z0
	VMINPS      Z0, Z17, Z1
	VMAXPS      Z1, Z19, Z1
	EXPM1R512(Z1, Z2, Z3, Z4, Z5)
	VSCALEFPS   Z2, Z22, Z6
	VSUBPS      Z22, Z6, Z7
	VFMADD213PS Z7, Z6, Z4
	VCMPPS      $14, Z17, Z0, K1
	VBLENDMPS   Z0, Z4, K1, Z4
	VMOVUPS     Z4, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         eluloop
eludone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX2 + FMA

// func vmExpAVX2(dst, src *float32, n int)
TEXT ·vmExpAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   exp2done
	LOADC256
exp2loop:
	VMOVUPS (SI), Y0
	VMAXPS  Y0, Y15, Y0
	VMINPS  Y0, Y14, Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     exp2loop
exp2done:
	VZEROUPPER
	RET

// func vmSigmoidAVX2(dst, src *float32, n int)
TEXT ·vmSigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   sig2done
	LOADC256
sig2loop:
	VMOVUPS (SI), Y0
	SIGMOID256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sig2loop
sig2done:
	VZEROUPPER
	RET

// func vmSwishAVX2(dst, src *float32, n int)
//
// A vector whose inputs all lie in [−87, 87] takes a short path: e = exp(−|x|) scaled
// by 2ⁿ in one step (e stays a normal number there) and swish = (x < 0 ? x·e : x)/(1 + e).
// It gives the bits of SWISH256 (which scales by 2ⁿ in two steps after the division so
// that subnormal results round once); other vectors take SWISH256.
TEXT ·vmSwishAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   sw2done
	LOADC256
sw2pair:
	// two vectors at a time on the short path, their steps interleaved
	CMPQ      CX, $2
	JLT       sw2loop
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y6
	VORPS     Y12, Y0, Y1
	VORPS     Y12, Y6, Y7
	VCMPPS    $9, vmc<>+384(SB), Y1, Y2
	VCMPPS    $9, vmc<>+384(SB), Y7, Y8
	VORPS     Y2, Y8, Y2
	VMOVMSKPS Y2, AX
	TESTL     AX, AX
	JNZ       sw2loop
	VMULPS    vmc<>+0(SB), Y1, Y2
	VMULPS    vmc<>+0(SB), Y7, Y8
	VROUNDPS  $0, Y2, Y2
	VROUNDPS  $0, Y8, Y8
	VMOVAPS   Y1, Y3
	VMOVAPS   Y7, Y9
	VFMADD231PS vmc<>+32(SB), Y2, Y3
	VFMADD231PS vmc<>+32(SB), Y8, Y9
	VFMADD231PS vmc<>+64(SB), Y2, Y3
	VFMADD231PS vmc<>+64(SB), Y8, Y9
	VMOVAPS   vmc<>+96(SB), Y4
	VMOVAPS   vmc<>+96(SB), Y10
	VFMADD213PS vmc<>+128(SB), Y3, Y4
	VFMADD213PS vmc<>+128(SB), Y9, Y10
	VFMADD213PS vmc<>+160(SB), Y3, Y4
	VFMADD213PS vmc<>+160(SB), Y9, Y10
	VFMADD213PS vmc<>+192(SB), Y3, Y4
	VFMADD213PS vmc<>+192(SB), Y9, Y10
	VFMADD213PS vmc<>+224(SB), Y3, Y4
	VFMADD213PS vmc<>+224(SB), Y9, Y10
	VFMADD213PS vmc<>+256(SB), Y3, Y4
	VFMADD213PS vmc<>+256(SB), Y9, Y10
	VMULPS    Y3, Y3, Y5
	VMULPS    Y9, Y9, Y14
	VFMADD213PS Y3, Y5, Y4
	VFMADD213PS Y9, Y14, Y10
	VADDPS    Y13, Y4, Y4
	VADDPS    Y13, Y10, Y10
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y8, Y8
	VPSLLD    $23, Y2, Y2
	VPSLLD    $23, Y8, Y8
	VPADDD    Y2, Y4, Y4
	VPADDD    Y8, Y10, Y10
	VADDPS    Y13, Y4, Y5
	VADDPS    Y13, Y10, Y14
	VMULPS    Y0, Y4, Y4
	VMULPS    Y6, Y10, Y10
	VCMPPS    $1, Y11, Y0, Y2
	VCMPPS    $1, Y11, Y6, Y8
	VBLENDVPS Y2, Y4, Y0, Y1
	VBLENDVPS Y8, Y10, Y6, Y7
	VDIVPS    Y5, Y1, Y1
	VDIVPS    Y14, Y7, Y7
	VMOVUPS   Y1, (DI)
	VMOVUPS   Y7, 32(DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $2, CX
	JNZ       sw2pair
	JMP       sw2done
sw2loop:
	// one vector: the short path when it can, else SWISH256
	VMOVUPS   (SI), Y0
	VORPS     Y12, Y0, Y1
	VCMPPS    $9, vmc<>+384(SB), Y1, Y2
	VMOVMSKPS Y2, AX
	TESTL     AX, AX
	JNZ       sw2slow
	EXPM1R256(Y1, Y2, Y3, Y4, Y5)
	VADDPS    Y13, Y4, Y4
	VCVTPS2DQ Y2, Y2
	VPSLLD    $23, Y2, Y2
	VPADDD    Y2, Y4, Y4
	VADDPS    Y13, Y4, Y5
	VMULPS    Y0, Y4, Y4
	VCMPPS    $1, Y11, Y0, Y2
	VBLENDVPS Y2, Y4, Y0, Y1
	VDIVPS    Y5, Y1, Y1
sw2store:
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sw2pair
sw2done:
	VZEROUPPER
	RET
sw2slow:
	SWISH256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	JMP sw2store

// func vmSwishBackAVX2(gx, gy, x *float32, n int)
TEXT ·vmSwishBackAVX2(SB), NOSPLIT, $0-32
	MOVQ gx+0(FP), DI
	MOVQ gy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   swb2done
	LOADC256
swb2loop:
	VMOVUPS (SI), Y0
	SWISHGRAD256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VMOVUPS     (DI), Y8
	VFMADD231PS (DX), Y1, Y8
	VMOVUPS     Y8, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         swb2loop
swb2done:
	VZEROUPPER
	RET

// func vmELUBackAVX2(gx, gy, x, y *float32, n int)
// vmELUBackAVX512 for vectors of 8.
TEXT ·vmELUBackAVX2(SB), NOSPLIT, $0-40
	MOVQ         gx+0(FP), DI
	MOVQ         gy+8(FP), DX
	MOVQ         x+16(FP), SI
	MOVQ         y+24(FP), BX
	MOVQ         n+32(FP), CX
	SHRQ         $3, CX
	JZ           elub2done
	VBROADCASTSS vmc<>+288(SB), Y1
	VXORPS       Y2, Y2, Y2
elub2loop:
	VMOVUPS   (SI), Y0
	VADDPS    (BX), Y1, Y3
	VCMPPS    $14, Y2, Y0, Y4
	VBLENDVPS Y4, Y1, Y3, Y3
	VMULPS    (DX), Y3, Y3
	VADDPS    (DI), Y3, Y3
	VMOVUPS   Y3, (DI)
	ADDQ      $32, SI
	ADDQ      $32, BX
	ADDQ      $32, DX
	ADDQ      $32, DI
	DECQ      CX
	JNZ       elub2loop
elub2done:
	VZEROUPPER
	RET

// func vmELUAVX2(dst, src *float32, n int)
TEXT ·vmELUAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   elu2done
	LOADC256
	VBROADCASTSS vmc<>+384(SB), Y10
elu2loop:
	VMOVUPS     (SI), Y0
	VMINPS      Y0, Y11, Y1
	VMAXPS      Y1, Y10, Y1
	EXPM1R256(Y1, Y2, Y3, Y4, Y5)
	VCVTPS2DQ   Y2, Y2
	VPADDD      vmc<>+448(SB), Y2, Y2
	VPSLLD      $23, Y2, Y6
	VSUBPS      Y13, Y6, Y7
	VFMADD213PS Y7, Y6, Y4
	VCMPPS      $14, Y11, Y0, Y8
	VBLENDVPS   Y8, Y0, Y4, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         elu2loop
elu2done:
	VZEROUPPER
	RET
