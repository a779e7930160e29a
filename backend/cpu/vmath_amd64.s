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
//
// Runs of at least three vectors go through a software pipeline first: each step
// starts the exponent of one vector (stage A), the polynomial of the one before (B)
// and finishes the one before that (C), with three register sets in rotation, so
// the long dependency chain of each vector is spread over three steps and the
// scheduler is not filled with operations waiting on it. The pipeline computes the
// short path's operations in the same order (same bits; the select uses the sign
// bit of x, which equals x < 0 for every finite x except −0, where both choices give
// −0). A vector out of the short path's range stops it before anything of that
// vector is stored; the loops below then go on from the first vector not stored.
TEXT ·vmSwishAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   sw2done
	CMPQ CX, $3
	JLT  sw2plain
	MOVQ CX, R8 // vectors in all
	MOVQ DI, R9 // dst at the start
	MOVQ CX, AX
	XORQ DX, DX
	MOVQ $3, BX
	DIVQ BX     // AX = pipelined vectors / 3, DX = the rest
	MOVQ AX, R10
	VBROADCASTSS vmc<>+288(SB), Y13
	VBROADCASTSS vmc<>+416(SB), Y12
	SWPA(Y0, Y1, Y2)
	SWPA(Y3, Y4, Y5)
	SWPB(Y2)
	DECQ R10
	JZ   swpdrain
swploop:
	SWPA(Y6, Y7, Y8)
	SWPB(Y5)
	SWPC(Y0, Y1, Y2)
	SWPA(Y0, Y1, Y2)
	SWPB(Y8)
	SWPC(Y3, Y4, Y5)
	SWPA(Y3, Y4, Y5)
	SWPB(Y2)
	SWPC(Y6, Y7, Y8)
	DECQ R10
	JNZ  swploop
swpdrain:
	SWPA(Y6, Y7, Y8)
	SWPB(Y5)
	SWPC(Y0, Y1, Y2)
	SWPB(Y8)
	SWPC(Y3, Y4, Y5)
	SWPC(Y6, Y7, Y8)
	MOVQ DX, CX
	TESTQ CX, CX
	JZ   sw2done
	JMP  sw2plain
swpstop:
	// go on from the first vector not stored
	MOVQ DI, AX
	SUBQ R9, AX
	MOVQ src+8(FP), SI
	ADDQ AX, SI
	SHRQ $5, AX
	MOVQ R8, CX
	SUBQ AX, CX
sw2plain:
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

// func vmLogAVX2(dst, src *float32, n int)
//
// log x = e·ln2 + log1p(f) for x = 2ᵉ·(1 + f) with 1 + f in [√½, √2) (subnormal x
// scaled by 2²³ first). With s = f/(2 + f), log1p(f) = 2·atanh(s) = f − (f²/2 −
// s·(f²/2 + R)), where R = Σₖ 2s²ᵏ/(2k + 1) (k = 1…4) is the rest of the atanh series:
// the leading term f is exact, so the rounding of s only reaches the small correction.
// ln2 is split in a part with few bits (e·ln2hi is exact) and the rest. x = 0 gives
// −∞, x < 0 NaN, +∞ and NaN themselves.
TEXT ·vmLogAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   log2done
	VXORPS Y10, Y10, Y10
log2loop:
	VMOVUPS     (SI), Y0
	VCMPPS      $1, vlc<>+224(SB), Y0, Y1
	VMULPS      vlc<>+160(SB), Y0, Y2
	VBLENDVPS   Y1, Y2, Y0, Y2
	VANDPS      vlc<>+192(SB), Y1, Y3
	VPSRLD      $23, Y2, Y4
	VPSUBD      vlc<>+128(SB), Y4, Y4
	VANDPS      vlc<>+64(SB), Y2, Y5
	VORPS       vlc<>+96(SB), Y5, Y5
	VCVTDQ2PS   Y4, Y4
	VSUBPS      Y3, Y4, Y4
	VCMPPS      $14, vlc<>+0(SB), Y5, Y6
	VMULPS      vlc<>+32(SB), Y5, Y7
	VBLENDVPS   Y6, Y7, Y5, Y5
	VANDPS      vlc<>+96(SB), Y6, Y7
	VADDPS      Y7, Y4, Y4
	VSUBPS      vlc<>+96(SB), Y5, Y5
	VADDPS      vlc<>+544(SB), Y5, Y6
	VDIVPS      Y6, Y5, Y6
	VMULPS      Y6, Y6, Y7
	VMOVAPS     vlc<>+256(SB), Y8
	VFMADD213PS vlc<>+288(SB), Y7, Y8
	VFMADD213PS vlc<>+320(SB), Y7, Y8
	VFMADD213PS vlc<>+352(SB), Y7, Y8
	VMULPS      Y7, Y8, Y8
	VMULPS      Y5, Y5, Y9
	VMULPS      vlc<>+32(SB), Y9, Y9
	VADDPS      Y9, Y8, Y8
	VFNMADD231PS Y8, Y6, Y9
	VSUBPS      Y9, Y5, Y5
	VFMADD231PS vlc<>+416(SB), Y4, Y5
	VFMADD231PS vlc<>+384(SB), Y4, Y5
	VCMPPS      $0, Y10, Y0, Y1
	VBLENDVPS   Y1, vlc<>+448(SB), Y5, Y5
	VCMPPS      $1, Y10, Y0, Y1
	VBLENDVPS   Y1, vlc<>+480(SB), Y5, Y5
	VCMPPS      $0, vlc<>+512(SB), Y0, Y1
	VCMPPS      $3, Y0, Y0, Y2
	VORPS       Y2, Y1, Y1
	VBLENDVPS   Y1, Y0, Y5, Y5
	VMOVUPS     Y5, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         log2loop
log2done:
	VZEROUPPER
	RET

// func vmTanhAVX2(dst, src *float32, n int)
//
// tanh x = sign(x)·E/(E + 2) with E = expm1(2|x|) (|x| clamped to 10, where tanh
// rounds to 1), which has no cancellation for small |x|; NaN gives NaN.
TEXT ·vmTanhAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   tanh2done
tanh2loop:
	VMOVUPS     (SI), Y0
	VANDPS      vlc<>+608(SB), Y0, Y1
	VMINPS      vlc<>+576(SB), Y1, Y1
	VADDPS      Y1, Y1, Y1
	EXPM1R256(Y1, Y2, Y3, Y4, Y5)
	VCVTPS2DQ   Y2, Y2
	VPSLLD      $23, Y2, Y2
	VPADDD      vlc<>+96(SB), Y2, Y2
	VSUBPS      vlc<>+96(SB), Y2, Y3
	VFMADD213PS Y3, Y2, Y4
	VADDPS      vlc<>+544(SB), Y4, Y5
	VDIVPS      Y5, Y4, Y4
	VANDPS      vlc<>+640(SB), Y0, Y6
	VORPS       Y6, Y4, Y4
	VCMPPS      $3, Y0, Y0, Y6
	VBLENDVPS   Y6, Y0, Y4, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         tanh2loop
tanh2done:
	VZEROUPPER
	RET

// vlc: constants of the AVX2 log and tanh kernels, one per 32-byte row (eight copies):
// 0: sqrt2, 32: half, 64: mantissa mask, 96: one, 128: 127, 160: 2^23, 192: 23, 224: 2^-126, 256: 2/9, 288: 2/7, 320: 2/5, 352: 2/3, 384: ln2 high part, 416: ln2 low part, 448: -inf, 480: NaN, 512: +inf, 544: 2, 576: 10, 608: abs mask, 640: sign bit.
DATA vlc<>+0(SB)/4, $0x3fb504f3
DATA vlc<>+4(SB)/4, $0x3fb504f3
DATA vlc<>+8(SB)/4, $0x3fb504f3
DATA vlc<>+12(SB)/4, $0x3fb504f3
DATA vlc<>+16(SB)/4, $0x3fb504f3
DATA vlc<>+20(SB)/4, $0x3fb504f3
DATA vlc<>+24(SB)/4, $0x3fb504f3
DATA vlc<>+28(SB)/4, $0x3fb504f3
DATA vlc<>+32(SB)/4, $0x3f000000
DATA vlc<>+36(SB)/4, $0x3f000000
DATA vlc<>+40(SB)/4, $0x3f000000
DATA vlc<>+44(SB)/4, $0x3f000000
DATA vlc<>+48(SB)/4, $0x3f000000
DATA vlc<>+52(SB)/4, $0x3f000000
DATA vlc<>+56(SB)/4, $0x3f000000
DATA vlc<>+60(SB)/4, $0x3f000000
DATA vlc<>+64(SB)/4, $0x007fffff
DATA vlc<>+68(SB)/4, $0x007fffff
DATA vlc<>+72(SB)/4, $0x007fffff
DATA vlc<>+76(SB)/4, $0x007fffff
DATA vlc<>+80(SB)/4, $0x007fffff
DATA vlc<>+84(SB)/4, $0x007fffff
DATA vlc<>+88(SB)/4, $0x007fffff
DATA vlc<>+92(SB)/4, $0x007fffff
DATA vlc<>+96(SB)/4, $0x3f800000
DATA vlc<>+100(SB)/4, $0x3f800000
DATA vlc<>+104(SB)/4, $0x3f800000
DATA vlc<>+108(SB)/4, $0x3f800000
DATA vlc<>+112(SB)/4, $0x3f800000
DATA vlc<>+116(SB)/4, $0x3f800000
DATA vlc<>+120(SB)/4, $0x3f800000
DATA vlc<>+124(SB)/4, $0x3f800000
DATA vlc<>+128(SB)/4, $0x0000007f
DATA vlc<>+132(SB)/4, $0x0000007f
DATA vlc<>+136(SB)/4, $0x0000007f
DATA vlc<>+140(SB)/4, $0x0000007f
DATA vlc<>+144(SB)/4, $0x0000007f
DATA vlc<>+148(SB)/4, $0x0000007f
DATA vlc<>+152(SB)/4, $0x0000007f
DATA vlc<>+156(SB)/4, $0x0000007f
DATA vlc<>+160(SB)/4, $0x4b000000
DATA vlc<>+164(SB)/4, $0x4b000000
DATA vlc<>+168(SB)/4, $0x4b000000
DATA vlc<>+172(SB)/4, $0x4b000000
DATA vlc<>+176(SB)/4, $0x4b000000
DATA vlc<>+180(SB)/4, $0x4b000000
DATA vlc<>+184(SB)/4, $0x4b000000
DATA vlc<>+188(SB)/4, $0x4b000000
DATA vlc<>+192(SB)/4, $0x41b80000
DATA vlc<>+196(SB)/4, $0x41b80000
DATA vlc<>+200(SB)/4, $0x41b80000
DATA vlc<>+204(SB)/4, $0x41b80000
DATA vlc<>+208(SB)/4, $0x41b80000
DATA vlc<>+212(SB)/4, $0x41b80000
DATA vlc<>+216(SB)/4, $0x41b80000
DATA vlc<>+220(SB)/4, $0x41b80000
DATA vlc<>+224(SB)/4, $0x00800000
DATA vlc<>+228(SB)/4, $0x00800000
DATA vlc<>+232(SB)/4, $0x00800000
DATA vlc<>+236(SB)/4, $0x00800000
DATA vlc<>+240(SB)/4, $0x00800000
DATA vlc<>+244(SB)/4, $0x00800000
DATA vlc<>+248(SB)/4, $0x00800000
DATA vlc<>+252(SB)/4, $0x00800000
DATA vlc<>+256(SB)/4, $0x3e638e39
DATA vlc<>+260(SB)/4, $0x3e638e39
DATA vlc<>+264(SB)/4, $0x3e638e39
DATA vlc<>+268(SB)/4, $0x3e638e39
DATA vlc<>+272(SB)/4, $0x3e638e39
DATA vlc<>+276(SB)/4, $0x3e638e39
DATA vlc<>+280(SB)/4, $0x3e638e39
DATA vlc<>+284(SB)/4, $0x3e638e39
DATA vlc<>+288(SB)/4, $0x3e924925
DATA vlc<>+292(SB)/4, $0x3e924925
DATA vlc<>+296(SB)/4, $0x3e924925
DATA vlc<>+300(SB)/4, $0x3e924925
DATA vlc<>+304(SB)/4, $0x3e924925
DATA vlc<>+308(SB)/4, $0x3e924925
DATA vlc<>+312(SB)/4, $0x3e924925
DATA vlc<>+316(SB)/4, $0x3e924925
DATA vlc<>+320(SB)/4, $0x3ecccccd
DATA vlc<>+324(SB)/4, $0x3ecccccd
DATA vlc<>+328(SB)/4, $0x3ecccccd
DATA vlc<>+332(SB)/4, $0x3ecccccd
DATA vlc<>+336(SB)/4, $0x3ecccccd
DATA vlc<>+340(SB)/4, $0x3ecccccd
DATA vlc<>+344(SB)/4, $0x3ecccccd
DATA vlc<>+348(SB)/4, $0x3ecccccd
DATA vlc<>+352(SB)/4, $0x3f2aaaab
DATA vlc<>+356(SB)/4, $0x3f2aaaab
DATA vlc<>+360(SB)/4, $0x3f2aaaab
DATA vlc<>+364(SB)/4, $0x3f2aaaab
DATA vlc<>+368(SB)/4, $0x3f2aaaab
DATA vlc<>+372(SB)/4, $0x3f2aaaab
DATA vlc<>+376(SB)/4, $0x3f2aaaab
DATA vlc<>+380(SB)/4, $0x3f2aaaab
DATA vlc<>+384(SB)/4, $0x3f318000
DATA vlc<>+388(SB)/4, $0x3f318000
DATA vlc<>+392(SB)/4, $0x3f318000
DATA vlc<>+396(SB)/4, $0x3f318000
DATA vlc<>+400(SB)/4, $0x3f318000
DATA vlc<>+404(SB)/4, $0x3f318000
DATA vlc<>+408(SB)/4, $0x3f318000
DATA vlc<>+412(SB)/4, $0x3f318000
DATA vlc<>+416(SB)/4, $0xb95e8083
DATA vlc<>+420(SB)/4, $0xb95e8083
DATA vlc<>+424(SB)/4, $0xb95e8083
DATA vlc<>+428(SB)/4, $0xb95e8083
DATA vlc<>+432(SB)/4, $0xb95e8083
DATA vlc<>+436(SB)/4, $0xb95e8083
DATA vlc<>+440(SB)/4, $0xb95e8083
DATA vlc<>+444(SB)/4, $0xb95e8083
DATA vlc<>+448(SB)/4, $0xff800000
DATA vlc<>+452(SB)/4, $0xff800000
DATA vlc<>+456(SB)/4, $0xff800000
DATA vlc<>+460(SB)/4, $0xff800000
DATA vlc<>+464(SB)/4, $0xff800000
DATA vlc<>+468(SB)/4, $0xff800000
DATA vlc<>+472(SB)/4, $0xff800000
DATA vlc<>+476(SB)/4, $0xff800000
DATA vlc<>+480(SB)/4, $0x7fc00000
DATA vlc<>+484(SB)/4, $0x7fc00000
DATA vlc<>+488(SB)/4, $0x7fc00000
DATA vlc<>+492(SB)/4, $0x7fc00000
DATA vlc<>+496(SB)/4, $0x7fc00000
DATA vlc<>+500(SB)/4, $0x7fc00000
DATA vlc<>+504(SB)/4, $0x7fc00000
DATA vlc<>+508(SB)/4, $0x7fc00000
DATA vlc<>+512(SB)/4, $0x7f800000
DATA vlc<>+516(SB)/4, $0x7f800000
DATA vlc<>+520(SB)/4, $0x7f800000
DATA vlc<>+524(SB)/4, $0x7f800000
DATA vlc<>+528(SB)/4, $0x7f800000
DATA vlc<>+532(SB)/4, $0x7f800000
DATA vlc<>+536(SB)/4, $0x7f800000
DATA vlc<>+540(SB)/4, $0x7f800000
DATA vlc<>+544(SB)/4, $0x40000000
DATA vlc<>+548(SB)/4, $0x40000000
DATA vlc<>+552(SB)/4, $0x40000000
DATA vlc<>+556(SB)/4, $0x40000000
DATA vlc<>+560(SB)/4, $0x40000000
DATA vlc<>+564(SB)/4, $0x40000000
DATA vlc<>+568(SB)/4, $0x40000000
DATA vlc<>+572(SB)/4, $0x40000000
DATA vlc<>+576(SB)/4, $0x41200000
DATA vlc<>+580(SB)/4, $0x41200000
DATA vlc<>+584(SB)/4, $0x41200000
DATA vlc<>+588(SB)/4, $0x41200000
DATA vlc<>+592(SB)/4, $0x41200000
DATA vlc<>+596(SB)/4, $0x41200000
DATA vlc<>+600(SB)/4, $0x41200000
DATA vlc<>+604(SB)/4, $0x41200000
DATA vlc<>+608(SB)/4, $0x7fffffff
DATA vlc<>+612(SB)/4, $0x7fffffff
DATA vlc<>+616(SB)/4, $0x7fffffff
DATA vlc<>+620(SB)/4, $0x7fffffff
DATA vlc<>+624(SB)/4, $0x7fffffff
DATA vlc<>+628(SB)/4, $0x7fffffff
DATA vlc<>+632(SB)/4, $0x7fffffff
DATA vlc<>+636(SB)/4, $0x7fffffff
DATA vlc<>+640(SB)/4, $0x80000000
DATA vlc<>+644(SB)/4, $0x80000000
DATA vlc<>+648(SB)/4, $0x80000000
DATA vlc<>+652(SB)/4, $0x80000000
DATA vlc<>+656(SB)/4, $0x80000000
DATA vlc<>+660(SB)/4, $0x80000000
DATA vlc<>+664(SB)/4, $0x80000000
DATA vlc<>+668(SB)/4, $0x80000000
GLOBL vlc<>(SB), RODATA|NOPTR, $672
