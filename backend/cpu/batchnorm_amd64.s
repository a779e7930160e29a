//go:build amd64

#include "textflag.h"
#include "vmath_amd64.h"

// Batch-norm (+ Swish) row kernels (see batchnorm.go for the drivers,
// vmath_amd64.h for the constants and macros and batchnorm_amd64.go for the Go
// declarations).

// ---------------------------------------------------------------- AVX-512

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
