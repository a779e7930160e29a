//go:build amd64

#include "textflag.h"

// Vectorised float32 exp-family kernels and the batch-norm (+ Swish) row kernels
// (see vmath.go for the algorithms and vmath_amd64.go for the Go declarations).
//
// exp(t): n = round(t·log2e), r = t − n·ln2 (Cody–Waite, two FMAs, exact high part),
// q = expm1(r) = r + r²·P(r) with the degree-5 Taylor polynomial P (truncation
// < 2e-8 relative for |r| ≤ ln2/2), exp(t) = 2ⁿ·(1 + q), expm1(t) = 2ⁿ·q + (2ⁿ − 1).
// Inputs are clamped first with MAXPS/MINPS ordered so that a NaN input passes through.
//
// vmc is a table of 32-byte rows, each holding one constant eight times (AVX2 kernels
// use the rows as memory operands; AVX-512 kernels broadcast them into Z17–Z31).
// 0: log2e
DATA vmc<>+0(SB)/4, $0x3fb8aa3b
DATA vmc<>+4(SB)/4, $0x3fb8aa3b
DATA vmc<>+8(SB)/4, $0x3fb8aa3b
DATA vmc<>+12(SB)/4, $0x3fb8aa3b
DATA vmc<>+16(SB)/4, $0x3fb8aa3b
DATA vmc<>+20(SB)/4, $0x3fb8aa3b
DATA vmc<>+24(SB)/4, $0x3fb8aa3b
DATA vmc<>+28(SB)/4, $0x3fb8aa3b
// 32: -ln2hi
DATA vmc<>+32(SB)/4, $0xbf317218
DATA vmc<>+36(SB)/4, $0xbf317218
DATA vmc<>+40(SB)/4, $0xbf317218
DATA vmc<>+44(SB)/4, $0xbf317218
DATA vmc<>+48(SB)/4, $0xbf317218
DATA vmc<>+52(SB)/4, $0xbf317218
DATA vmc<>+56(SB)/4, $0xbf317218
DATA vmc<>+60(SB)/4, $0xbf317218
// 64: -ln2lo
DATA vmc<>+64(SB)/4, $0x3102e308
DATA vmc<>+68(SB)/4, $0x3102e308
DATA vmc<>+72(SB)/4, $0x3102e308
DATA vmc<>+76(SB)/4, $0x3102e308
DATA vmc<>+80(SB)/4, $0x3102e308
DATA vmc<>+84(SB)/4, $0x3102e308
DATA vmc<>+88(SB)/4, $0x3102e308
DATA vmc<>+92(SB)/4, $0x3102e308
// 96: 1/5040
DATA vmc<>+96(SB)/4, $0x39500d01
DATA vmc<>+100(SB)/4, $0x39500d01
DATA vmc<>+104(SB)/4, $0x39500d01
DATA vmc<>+108(SB)/4, $0x39500d01
DATA vmc<>+112(SB)/4, $0x39500d01
DATA vmc<>+116(SB)/4, $0x39500d01
DATA vmc<>+120(SB)/4, $0x39500d01
DATA vmc<>+124(SB)/4, $0x39500d01
// 128: 1/720
DATA vmc<>+128(SB)/4, $0x3ab60b61
DATA vmc<>+132(SB)/4, $0x3ab60b61
DATA vmc<>+136(SB)/4, $0x3ab60b61
DATA vmc<>+140(SB)/4, $0x3ab60b61
DATA vmc<>+144(SB)/4, $0x3ab60b61
DATA vmc<>+148(SB)/4, $0x3ab60b61
DATA vmc<>+152(SB)/4, $0x3ab60b61
DATA vmc<>+156(SB)/4, $0x3ab60b61
// 160: 1/120
DATA vmc<>+160(SB)/4, $0x3c088889
DATA vmc<>+164(SB)/4, $0x3c088889
DATA vmc<>+168(SB)/4, $0x3c088889
DATA vmc<>+172(SB)/4, $0x3c088889
DATA vmc<>+176(SB)/4, $0x3c088889
DATA vmc<>+180(SB)/4, $0x3c088889
DATA vmc<>+184(SB)/4, $0x3c088889
DATA vmc<>+188(SB)/4, $0x3c088889
// 192: 1/24
DATA vmc<>+192(SB)/4, $0x3d2aaaab
DATA vmc<>+196(SB)/4, $0x3d2aaaab
DATA vmc<>+200(SB)/4, $0x3d2aaaab
DATA vmc<>+204(SB)/4, $0x3d2aaaab
DATA vmc<>+208(SB)/4, $0x3d2aaaab
DATA vmc<>+212(SB)/4, $0x3d2aaaab
DATA vmc<>+216(SB)/4, $0x3d2aaaab
DATA vmc<>+220(SB)/4, $0x3d2aaaab
// 224: 1/6
DATA vmc<>+224(SB)/4, $0x3e2aaaab
DATA vmc<>+228(SB)/4, $0x3e2aaaab
DATA vmc<>+232(SB)/4, $0x3e2aaaab
DATA vmc<>+236(SB)/4, $0x3e2aaaab
DATA vmc<>+240(SB)/4, $0x3e2aaaab
DATA vmc<>+244(SB)/4, $0x3e2aaaab
DATA vmc<>+248(SB)/4, $0x3e2aaaab
DATA vmc<>+252(SB)/4, $0x3e2aaaab
// 256: 1/2
DATA vmc<>+256(SB)/4, $0x3f000000
DATA vmc<>+260(SB)/4, $0x3f000000
DATA vmc<>+264(SB)/4, $0x3f000000
DATA vmc<>+268(SB)/4, $0x3f000000
DATA vmc<>+272(SB)/4, $0x3f000000
DATA vmc<>+276(SB)/4, $0x3f000000
DATA vmc<>+280(SB)/4, $0x3f000000
DATA vmc<>+284(SB)/4, $0x3f000000
// 288: 1
DATA vmc<>+288(SB)/4, $0x3f800000
DATA vmc<>+292(SB)/4, $0x3f800000
DATA vmc<>+296(SB)/4, $0x3f800000
DATA vmc<>+300(SB)/4, $0x3f800000
DATA vmc<>+304(SB)/4, $0x3f800000
DATA vmc<>+308(SB)/4, $0x3f800000
DATA vmc<>+312(SB)/4, $0x3f800000
DATA vmc<>+316(SB)/4, $0x3f800000
// 320: -110 (exp lower clamp)
DATA vmc<>+320(SB)/4, $0xc2dc0000
DATA vmc<>+324(SB)/4, $0xc2dc0000
DATA vmc<>+328(SB)/4, $0xc2dc0000
DATA vmc<>+332(SB)/4, $0xc2dc0000
DATA vmc<>+336(SB)/4, $0xc2dc0000
DATA vmc<>+340(SB)/4, $0xc2dc0000
DATA vmc<>+344(SB)/4, $0xc2dc0000
DATA vmc<>+348(SB)/4, $0xc2dc0000
// 352: 89 (exp upper clamp)
DATA vmc<>+352(SB)/4, $0x42b20000
DATA vmc<>+356(SB)/4, $0x42b20000
DATA vmc<>+360(SB)/4, $0x42b20000
DATA vmc<>+364(SB)/4, $0x42b20000
DATA vmc<>+368(SB)/4, $0x42b20000
DATA vmc<>+372(SB)/4, $0x42b20000
DATA vmc<>+376(SB)/4, $0x42b20000
DATA vmc<>+380(SB)/4, $0x42b20000
// 384: -87 (expm1 lower clamp)
DATA vmc<>+384(SB)/4, $0xc2ae0000
DATA vmc<>+388(SB)/4, $0xc2ae0000
DATA vmc<>+392(SB)/4, $0xc2ae0000
DATA vmc<>+396(SB)/4, $0xc2ae0000
DATA vmc<>+400(SB)/4, $0xc2ae0000
DATA vmc<>+404(SB)/4, $0xc2ae0000
DATA vmc<>+408(SB)/4, $0xc2ae0000
DATA vmc<>+412(SB)/4, $0xc2ae0000
// 416: sign bit
DATA vmc<>+416(SB)/4, $0x80000000
DATA vmc<>+420(SB)/4, $0x80000000
DATA vmc<>+424(SB)/4, $0x80000000
DATA vmc<>+428(SB)/4, $0x80000000
DATA vmc<>+432(SB)/4, $0x80000000
DATA vmc<>+436(SB)/4, $0x80000000
DATA vmc<>+440(SB)/4, $0x80000000
DATA vmc<>+444(SB)/4, $0x80000000
// 448: int32 127 (exponent bias)
DATA vmc<>+448(SB)/4, $0x0000007f
DATA vmc<>+452(SB)/4, $0x0000007f
DATA vmc<>+456(SB)/4, $0x0000007f
DATA vmc<>+460(SB)/4, $0x0000007f
DATA vmc<>+464(SB)/4, $0x0000007f
DATA vmc<>+468(SB)/4, $0x0000007f
DATA vmc<>+472(SB)/4, $0x0000007f
DATA vmc<>+476(SB)/4, $0x0000007f
GLOBL vmc<>(SB), RODATA|NOPTR, $480

// ---------------------------------------------------------------- AVX-512

// LOADC512 broadcasts the constants: Z31 log2e, Z30 −ln2hi, Z29 −ln2lo, Z28…Z23 the
// polynomial 1/5040…1/2, Z22 1, Z21 −110, Z20 89, Z19 −87, Z18 sign bit, Z17 0.
#define LOADC512 \
	VBROADCASTSS vmc<>+0(SB), Z31; \
	VBROADCASTSS vmc<>+32(SB), Z30; \
	VBROADCASTSS vmc<>+64(SB), Z29; \
	VBROADCASTSS vmc<>+96(SB), Z28; \
	VBROADCASTSS vmc<>+128(SB), Z27; \
	VBROADCASTSS vmc<>+160(SB), Z26; \
	VBROADCASTSS vmc<>+192(SB), Z25; \
	VBROADCASTSS vmc<>+224(SB), Z24; \
	VBROADCASTSS vmc<>+256(SB), Z23; \
	VBROADCASTSS vmc<>+288(SB), Z22; \
	VBROADCASTSS vmc<>+320(SB), Z21; \
	VBROADCASTSS vmc<>+352(SB), Z20; \
	VBROADCASTSS vmc<>+384(SB), Z19; \
	VBROADCASTSS vmc<>+416(SB), Z18; \
	VPXORD Z17, Z17, Z17

// EXPM1R512 sets n = round(t·log2e) and q = expm1(t − n·ln2) (r and r2 are scratch).
#define EXPM1R512(t, n, r, q, r2) \
	VMULPS Z31, t, n; \
	VRNDSCALEPS $0, n, n; \
	VMOVAPS t, r; \
	VFMADD231PS Z30, n, r; \
	VFMADD231PS Z29, n, r; \
	VMOVAPS Z28, q; \
	VFMADD213PS Z27, r, q; \
	VFMADD213PS Z26, r, q; \
	VFMADD213PS Z25, r, q; \
	VFMADD213PS Z24, r, q; \
	VFMADD213PS Z23, r, q; \
	VMULPS r, r, r2; \
	VFMADD213PS r, r2, q

// EXP512 sets e = exp(t) for t already clamped to [−110, 89] or NaN.
#define EXP512(t, n, r, e, r2) \
	EXPM1R512(t, n, r, e, r2); \
	VADDPS Z22, e, e; \
	VSCALEFPS n, e, e

// SIGPARTS512 prepares σ(x): with t = max(−|x|, −110) and e^t = e1·2ⁿ, it sets n, e1,
// den = 1 + e^t and K1 = (x < 0) (r and r2 are scratch). Then σ(x) = 2^n'·(num/den)
// with num = e1, n' = n for x < 0 and num = 1, n' = 0 otherwise: nothing overflows and
// results in the denormal range are rounded once.
#define SIGPARTS512(x, e1, n, den, t, r, r2) \
	VPORD Z18, x, t; \
	VMAXPS t, Z21, t; \
	EXPM1R512(t, n, r, e1, r2); \
	VADDPS Z22, e1, e1; \
	VSCALEFPS n, e1, den; \
	VADDPS Z22, den, den; \
	VCMPPS $1, Z17, x, K1

// SIGMOID512 sets y = σ(x) (e1, n, den, t, r, r2 are scratch).
#define SIGMOID512(x, y, e1, n, den, t, r, r2) \
	SIGPARTS512(x, e1, n, den, t, r, r2); \
	VBLENDMPS e1, Z22, K1, y; \
	VBLENDMPS n, Z17, K1, n; \
	VDIVPS den, y, y; \
	VSCALEFPS n, y, y

// SWISH512 sets y = x·σ(x) (e1, n, den, t, r, r2 are scratch); for x < 0 the numerator
// is max(x, −110)·e1, which cannot overflow.
#define SWISH512(x, y, e1, n, den, t, r, r2) \
	SIGPARTS512(x, e1, n, den, t, r, r2); \
	VMULPS t, e1, t; \
	VBLENDMPS t, x, K1, y; \
	VBLENDMPS n, Z17, K1, n; \
	VDIVPS den, y, y; \
	VSCALEFPS n, y, y

// SWISHGRAD512 sets g = σ(x)·(1 + x·σ(−x)), with σ(−x) = 1 − σ(x) computed directly
// rather than by cancellation: with e = e^−|x| and inv = 1/(1 + e), σ(x) and σ(−x) are
// inv and e·inv in some order (e1, n, den, t, r, r2, inv are scratch). Unlike SWISH512
// it does not keep full relative accuracy for results below 2⁻¹²⁶.
#define SWISHGRAD512(x, g, e1, n, den, t, r, r2, inv) \
	VPORD Z18, x, t; \
	VMAXPS t, Z21, t; \
	EXPM1R512(t, n, r, e1, r2); \
	VADDPS Z22, e1, e1; \
	VSCALEFPS n, e1, e1; \
	VADDPS Z22, e1, den; \
	VCMPPS $1, Z17, x, K1; \
	VDIVPS den, Z22, inv; \
	VBLENDMPS e1, Z22, K1, g; \
	VBLENDMPS Z22, e1, K1, e1; \
	VMULPS inv, g, g; \
	VMULPS inv, e1, e1; \
	VFMADD213PS Z22, x, e1; \
	VMULPS e1, g, g

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

// func bnStatsAVX512(x *float32, rows, ld, cw int, k, s1, s2 *float64)
// For each row of x (ld floats apart) and channel j < cw (a multiple of 16):
// d = x[j] − k[j] in float64, s1[j] += d, s2[j] += d².
TEXT ·bnStatsAVX512(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ cw+24(FP), R9
	SHRQ $4, R9
	MOVQ k+32(FP), R10
	MOVQ s1+40(FP), R11
	MOVQ s2+48(FP), R12
	TESTQ CX, CX
	JZ    stdone
	TESTQ R9, R9
	JZ    stdone
strow:
	XORQ AX, AX
	MOVQ R9, BX
stgrp:
	VCVTPS2PD   (SI)(AX*1), Z0
	VCVTPS2PD   32(SI)(AX*1), Z1
	VSUBPD      (R10)(AX*2), Z0, Z0
	VSUBPD      64(R10)(AX*2), Z1, Z1
	VADDPD      (R11)(AX*2), Z0, Z2
	VADDPD      64(R11)(AX*2), Z1, Z3
	VMOVUPD     Z2, (R11)(AX*2)
	VMOVUPD     Z3, 64(R11)(AX*2)
	VMOVUPD     (R12)(AX*2), Z4
	VMOVUPD     64(R12)(AX*2), Z5
	VFMADD231PD Z0, Z0, Z4
	VFMADD231PD Z1, Z1, Z5
	VMOVUPD     Z4, (R12)(AX*2)
	VMOVUPD     Z5, 64(R12)(AX*2)
	ADDQ        $64, AX
	DECQ        BX
	JNZ         stgrp
	ADDQ        R8, SI
	DECQ        CX
	JNZ         strow
stdone:
	VZEROUPPER
	RET

// func bnFwdAVX512(y, x *float32, rows, ld, cw int, par *float32, swish bool)
// par holds, per group of 16 channels, 16 scales then 16 shifts;
// y = z or swish(z) with z = x·scale + shift.
TEXT ·bnFwdAVX512(SB), NOSPLIT, $0-49
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), R8
	SHLQ $2, R8
	MOVQ cw+32(FP), R9
	SHRQ $4, R9
	MOVQ par+40(FP), R10
	MOVBQZX swish+48(FP), R13
	TESTQ CX, CX
	JZ    fwdone
	TESTQ R9, R9
	JZ    fwdone
	LOADC512
fwrow:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R9, BX
fwgrp:
	VMOVUPS     (SI)(AX*1), Z0
	VMOVUPS     (R12), Z1
	VFMADD213PS 64(R12), Z1, Z0
	TESTQ       R13, R13
	JZ          fwstore
	SWISH512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVAPS     Z1, Z0
fwstore:
	VMOVUPS     Z0, (DI)(AX*1)
	ADDQ        $64, AX
	ADDQ        $128, R12
	DECQ        BX
	JNZ         fwgrp
	ADDQ        R8, SI
	ADDQ        R8, DI
	DECQ        CX
	JNZ         fwrow
fwdone:
	VZEROUPPER
	RET

// B1ACC512 adds dz (Z1) and dz·x̂ (Z11), widened to float64, to the 16 + 16 sums at R13.
#define B1ACC512 \
	VEXTRACTF64X4 $1, Z1, Y12; \
	VCVTPS2PD Y1, Z13; \
	VCVTPS2PD Y12, Z12; \
	VADDPD (R13), Z13, Z13; \
	VADDPD 64(R13), Z12, Z12; \
	VMOVUPD Z13, (R13); \
	VMOVUPD Z12, 64(R13); \
	VEXTRACTF64X4 $1, Z11, Y14; \
	VCVTPS2PD Y11, Z15; \
	VCVTPS2PD Y14, Z14; \
	VADDPD 128(R13), Z15, Z15; \
	VADDPD 192(R13), Z14, Z14; \
	VMOVUPD Z15, 128(R13); \
	VMOVUPD Z14, 192(R13)

// func bnBack1AVX512(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)
// par holds, per group of 16 channels, 16 each of mean, invstd, gamma, beta; sums
// holds, per group, 16 float64 sums of dz then 16 of dz·x̂. With x̂ = (x − mean)·invstd
// and dz = gy·swish'(x̂·gamma + beta) (dz = gy without swish, then not stored).
TEXT ·bnBack1AVX512(SB), NOSPLIT, $0-65
	MOVQ dz+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gy+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8
	MOVQ cw+40(FP), R9
	SHRQ $4, R9
	MOVQ par+48(FP), R10
	MOVQ sums+56(FP), R11
	TESTQ CX, CX
	JZ    b1done
	TESTQ R9, R9
	JZ    b1done
	LOADC512
	MOVBQZX swish+64(FP), BX
	TESTQ BX, BX
	JZ    b1plainrow
b1row:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R11, R13
	MOVQ R9, BX
b1grp:
	VMOVUPS     (SI)(AX*1), Z10
	VSUBPS      (R12), Z10, Z10
	VMULPS      64(R12), Z10, Z10
	VMOVUPS     128(R12), Z0
	VFMADD213PS 192(R12), Z10, Z0
	SWISHGRAD512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8)
	VMULPS      (DX)(AX*1), Z1, Z1
	VMOVUPS     Z1, (DI)(AX*1)
	VMULPS      Z10, Z1, Z11
	B1ACC512
	ADDQ        $64, AX
	ADDQ        $256, R12
	ADDQ        $256, R13
	DECQ        BX
	JNZ         b1grp
	ADDQ        R8, SI
	ADDQ        R8, DX
	ADDQ        R8, DI
	DECQ        CX
	JNZ         b1row
	JMP         b1done
b1plainrow:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R11, R13
	MOVQ R9, BX
b1plaingrp:
	VMOVUPS     (SI)(AX*1), Z10
	VSUBPS      (R12), Z10, Z10
	VMULPS      64(R12), Z10, Z10
	VMOVUPS     (DX)(AX*1), Z1
	VMULPS      Z10, Z1, Z11
	B1ACC512
	ADDQ        $64, AX
	ADDQ        $256, R12
	ADDQ        $256, R13
	DECQ        BX
	JNZ         b1plaingrp
	ADDQ        R8, SI
	ADDQ        R8, DX
	DECQ        CX
	JNZ         b1plainrow
b1done:
	VZEROUPPER
	RET

// func bnBack2AVX512(gx, x, dz *float32, rows, ld, cw int, par *float32, set bool)
// par holds, per group of 16 channels, 16 each of mean, invstd, a, b, c;
// gx += a·(dz − b − x̂·c) with x̂ = (x − mean)·invstd (with set, gx = a·(…): gx is
// not read).
TEXT ·bnBack2AVX512(SB), NOSPLIT, $0-57
	MOVQ gx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dz+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8
	MOVQ cw+40(FP), R9
	SHRQ $4, R9
	MOVQ par+48(FP), R10
	MOVBQZX set+56(FP), R11
	TESTQ CX, CX
	JZ    b2done
	TESTQ R9, R9
	JZ    b2done
b2row:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R9, BX
b2grp:
	VMOVUPS      (SI)(AX*1), Z0
	VSUBPS       (R12), Z0, Z0
	VMULPS       64(R12), Z0, Z0
	VMOVUPS      (DX)(AX*1), Z1
	VSUBPS       192(R12), Z1, Z1
	VFNMADD231PS 256(R12), Z0, Z1
	TESTQ        R11, R11
	JNZ          b2set
	VMOVUPS      (DI)(AX*1), Z2
	VFMADD231PS  128(R12), Z1, Z2
	JMP          b2store
b2set:
	VMULPS       128(R12), Z1, Z2
b2store:
	VMOVUPS      Z2, (DI)(AX*1)
	ADDQ         $64, AX
	ADDQ         $320, R12
	DECQ         BX
	JNZ          b2grp
	ADDQ         R8, SI
	ADDQ         R8, DX
	ADDQ         R8, DI
	DECQ         CX
	JNZ          b2row
b2done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX2 + FMA

// LOADC256 broadcasts Y15 −110, Y14 89, Y13 1, Y12 sign bit and zeroes Y11; the other
// constants are read from vmc as memory operands.
#define LOADC256 \
	VBROADCASTSS vmc<>+320(SB), Y15; \
	VBROADCASTSS vmc<>+352(SB), Y14; \
	VBROADCASTSS vmc<>+288(SB), Y13; \
	VBROADCASTSS vmc<>+416(SB), Y12; \
	VXORPS Y11, Y11, Y11

// EXPM1R256 sets n = round(t·log2e) and q = expm1(t − n·ln2) (r and r2 are scratch).
#define EXPM1R256(t, n, r, q, r2) \
	VMULPS vmc<>+0(SB), t, n; \
	VROUNDPS $0, n, n; \
	VMOVAPS t, r; \
	VFMADD231PS vmc<>+32(SB), n, r; \
	VFMADD231PS vmc<>+64(SB), n, r; \
	VMOVAPS vmc<>+96(SB), q; \
	VFMADD213PS vmc<>+128(SB), r, q; \
	VFMADD213PS vmc<>+160(SB), r, q; \
	VFMADD213PS vmc<>+192(SB), r, q; \
	VFMADD213PS vmc<>+224(SB), r, q; \
	VFMADD213PS vmc<>+256(SB), r, q; \
	VMULPS r, r, r2; \
	VFMADD213PS r, r2, q

// EXP256 sets e = exp(t) for t already clamped to [−110, 89] or NaN, scaling by 2ⁿ as
// 2^(n>>1)·2^(n−n>>1) so that both factors are normal numbers.
#define EXP256(t, n, r, e, r2) \
	EXPM1R256(t, n, r, e, r2); \
	VADDPS Y13, e, e; \
	VCVTPS2DQ n, n; \
	VPSRAD $1, n, r; \
	VPSUBD r, n, n; \
	VPADDD vmc<>+448(SB), r, r; \
	VPSLLD $23, r, r; \
	VMULPS r, e, e; \
	VPADDD vmc<>+448(SB), n, n; \
	VPSLLD $23, n, n; \
	VMULPS n, e, e

// SCALE256 multiplies v by 2^k for int32 lanes k in [−160, 160], as two factors
// 2^(k>>1)·2^(k−k>>1) that are both normal (k is clobbered, t is scratch).
#define SCALE256(v, k, t) \
	VPSRAD $1, k, t; \
	VPSUBD t, k, k; \
	VPADDD vmc<>+448(SB), t, t; \
	VPSLLD $23, t, t; \
	VMULPS t, v, v; \
	VPADDD vmc<>+448(SB), k, k; \
	VPSLLD $23, k, k; \
	VMULPS k, v, v

// SIGPARTS256 is SIGPARTS512 for AVX2: it sets the int32 exponents ni, e1, den and the
// mask m = (x < 0) (a, b, c are scratch).
#define SIGPARTS256(x, e1, ni, den, m, a, b, c) \
	VORPS Y12, x, a; \
	VMAXPS a, Y15, a; \
	EXPM1R256(a, ni, b, e1, c); \
	VADDPS Y13, e1, e1; \
	VCVTPS2DQ ni, ni; \
	VMOVAPS e1, den; \
	VMOVAPS ni, a; \
	SCALE256(den, a, b); \
	VADDPS Y13, den, den; \
	VCMPPS $1, Y11, x, m

#define SIGMOID256(x, y, e1, ni, den, m, a, b, c) \
	SIGPARTS256(x, e1, ni, den, m, a, b, c); \
	VBLENDVPS m, e1, Y13, y; \
	VDIVPS den, y, y; \
	VANDPS m, ni, a; \
	SCALE256(y, a, b)

#define SWISH256(x, y, e1, ni, den, m, a, b, c) \
	SIGPARTS256(x, e1, ni, den, m, a, b, c); \
	VMAXPS x, Y15, c; \
	VMULPS c, e1, c; \
	VBLENDVPS m, c, x, y; \
	VDIVPS den, y, y; \
	VANDPS m, ni, a; \
	SCALE256(y, a, b)

// SWISHGRAD256 is SWISHGRAD512 for AVX2 (e1, ni, den, m, a, b, c are scratch).
#define SWISHGRAD256(x, g, e1, ni, den, m, a, b, c) \
	VORPS Y12, x, a; \
	VMAXPS a, Y15, a; \
	EXPM1R256(a, ni, b, e1, c); \
	VADDPS Y13, e1, e1; \
	VCVTPS2DQ ni, ni; \
	SCALE256(e1, ni, b); \
	VADDPS Y13, e1, den; \
	VCMPPS $1, Y11, x, m; \
	VDIVPS den, Y13, c; \
	VBLENDVPS m, e1, Y13, g; \
	VBLENDVPS m, Y13, e1, e1; \
	VMULPS c, g, g; \
	VMULPS c, e1, e1; \
	VFMADD213PS Y13, x, e1; \
	VMULPS e1, g, g

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
TEXT ·vmSwishAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   sw2done
	LOADC256
sw2loop:
	VMOVUPS (SI), Y0
	SWISH256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     sw2loop
sw2done:
	VZEROUPPER
	RET

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

// func bnStatsAVX2(x *float32, rows, ld, cw int, k, s1, s2 *float64)
// bnStatsAVX512 for groups of 8 channels.
TEXT ·bnStatsAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ cw+24(FP), R9
	SHRQ $3, R9
	MOVQ k+32(FP), R10
	MOVQ s1+40(FP), R11
	MOVQ s2+48(FP), R12
	TESTQ CX, CX
	JZ    st2done
	TESTQ R9, R9
	JZ    st2done
st2row:
	XORQ AX, AX
	MOVQ R9, BX
st2grp:
	VCVTPS2PD   (SI)(AX*1), Y0
	VCVTPS2PD   16(SI)(AX*1), Y1
	VSUBPD      (R10)(AX*2), Y0, Y0
	VSUBPD      32(R10)(AX*2), Y1, Y1
	VADDPD      (R11)(AX*2), Y0, Y2
	VADDPD      32(R11)(AX*2), Y1, Y3
	VMOVUPD     Y2, (R11)(AX*2)
	VMOVUPD     Y3, 32(R11)(AX*2)
	VMOVUPD     (R12)(AX*2), Y4
	VMOVUPD     32(R12)(AX*2), Y5
	VFMADD231PD Y0, Y0, Y4
	VFMADD231PD Y1, Y1, Y5
	VMOVUPD     Y4, (R12)(AX*2)
	VMOVUPD     Y5, 32(R12)(AX*2)
	ADDQ        $32, AX
	DECQ        BX
	JNZ         st2grp
	ADDQ        R8, SI
	DECQ        CX
	JNZ         st2row
st2done:
	VZEROUPPER
	RET

// func bnFwdAVX2(y, x *float32, rows, ld, cw int, par *float32, swish bool)
// bnFwdAVX512 for groups of 8 channels (8 scales then 8 shifts per group).
TEXT ·bnFwdAVX2(SB), NOSPLIT, $0-49
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ ld+24(FP), R8
	SHLQ $2, R8
	MOVQ cw+32(FP), R9
	SHRQ $3, R9
	MOVQ par+40(FP), R10
	MOVBQZX swish+48(FP), R13
	TESTQ CX, CX
	JZ    fw2done
	TESTQ R9, R9
	JZ    fw2done
	LOADC256
fw2row:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R9, BX
fw2grp:
	VMOVUPS     (SI)(AX*1), Y0
	VMOVUPS     (R12), Y1
	VFMADD213PS 32(R12), Y1, Y0
	TESTQ       R13, R13
	JZ          fw2store
	SWISH256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VMOVAPS     Y1, Y0
fw2store:
	VMOVUPS     Y0, (DI)(AX*1)
	ADDQ        $32, AX
	ADDQ        $64, R12
	DECQ        BX
	JNZ         fw2grp
	ADDQ        R8, SI
	ADDQ        R8, DI
	DECQ        CX
	JNZ         fw2row
fw2done:
	VZEROUPPER
	RET

// B1ACC256 adds dz (Y1) and dz·x̂ (Y9), widened to float64, to the 8 + 8 sums at R13.
#define B1ACC256 \
	VEXTRACTF128 $1, Y1, X2; \
	VCVTPS2PD X1, Y3; \
	VCVTPS2PD X2, Y2; \
	VADDPD (R13), Y3, Y3; \
	VADDPD 32(R13), Y2, Y2; \
	VMOVUPD Y3, (R13); \
	VMOVUPD Y2, 32(R13); \
	VEXTRACTF128 $1, Y9, X4; \
	VCVTPS2PD X9, Y5; \
	VCVTPS2PD X4, Y4; \
	VADDPD 64(R13), Y5, Y5; \
	VADDPD 96(R13), Y4, Y4; \
	VMOVUPD Y5, 64(R13); \
	VMOVUPD Y4, 96(R13)

// func bnBack1AVX2(dz, x, gy *float32, rows, ld, cw int, par *float32, sums *float64, swish bool)
// bnBack1AVX512 for groups of 8 channels (par: 8 each of mean, invstd, gamma, beta;
// sums: 8 float64 sums of dz then 8 of dz·x̂ per group).
TEXT ·bnBack1AVX2(SB), NOSPLIT, $0-65
	MOVQ dz+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gy+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8
	MOVQ cw+40(FP), R9
	SHRQ $3, R9
	MOVQ par+48(FP), R10
	MOVQ sums+56(FP), R11
	TESTQ CX, CX
	JZ    b12done
	TESTQ R9, R9
	JZ    b12done
	LOADC256
	MOVBQZX swish+64(FP), BX
	TESTQ BX, BX
	JZ    b12plainrow
b12row:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R11, R13
	MOVQ R9, BX
b12grp:
	VMOVUPS     (SI)(AX*1), Y10
	VSUBPS      (R12), Y10, Y10
	VMULPS      32(R12), Y10, Y10
	VMOVUPS     64(R12), Y0
	VFMADD213PS 96(R12), Y10, Y0
	SWISHGRAD256(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VMULPS      (DX)(AX*1), Y1, Y1
	VMOVUPS     Y1, (DI)(AX*1)
	VMULPS      Y10, Y1, Y9
	B1ACC256
	ADDQ        $32, AX
	ADDQ        $128, R12
	ADDQ        $128, R13
	DECQ        BX
	JNZ         b12grp
	ADDQ        R8, SI
	ADDQ        R8, DX
	ADDQ        R8, DI
	DECQ        CX
	JNZ         b12row
	JMP         b12done
b12plainrow:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R11, R13
	MOVQ R9, BX
b12plaingrp:
	VMOVUPS     (SI)(AX*1), Y10
	VSUBPS      (R12), Y10, Y10
	VMULPS      32(R12), Y10, Y10
	VMOVUPS     (DX)(AX*1), Y1
	VMULPS      Y10, Y1, Y9
	B1ACC256
	ADDQ        $32, AX
	ADDQ        $128, R12
	ADDQ        $128, R13
	DECQ        BX
	JNZ         b12plaingrp
	ADDQ        R8, SI
	ADDQ        R8, DX
	DECQ        CX
	JNZ         b12plainrow
b12done:
	VZEROUPPER
	RET

// func bnBack2AVX2(gx, x, dz *float32, rows, ld, cw int, par *float32, set bool)
// bnBack2AVX512 for groups of 8 channels (par: 8 each of mean, invstd, a, b, c).
TEXT ·bnBack2AVX2(SB), NOSPLIT, $0-57
	MOVQ gx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dz+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8
	MOVQ cw+40(FP), R9
	SHRQ $3, R9
	MOVQ par+48(FP), R10
	MOVBQZX set+56(FP), R11
	TESTQ CX, CX
	JZ    b22done
	TESTQ R9, R9
	JZ    b22done
b22row:
	XORQ AX, AX
	MOVQ R10, R12
	MOVQ R9, BX
b22grp:
	VMOVUPS      (SI)(AX*1), Y0
	VSUBPS       (R12), Y0, Y0
	VMULPS       32(R12), Y0, Y0
	VMOVUPS      (DX)(AX*1), Y1
	VSUBPS       96(R12), Y1, Y1
	VFNMADD231PS 128(R12), Y0, Y1
	TESTQ        R11, R11
	JNZ          b22set
	VMOVUPS      (DI)(AX*1), Y2
	VFMADD231PS  64(R12), Y1, Y2
	JMP          b22store
b22set:
	VMULPS       64(R12), Y1, Y2
b22store:
	VMOVUPS      Y2, (DI)(AX*1)
	ADDQ         $32, AX
	ADDQ         $160, R12
	DECQ         BX
	JNZ          b22grp
	ADDQ         R8, SI
	ADDQ         R8, DX
	ADDQ         R8, DI
	DECQ         CX
	JNZ          b22row
b22done:
	VZEROUPPER
	RET
