// Shared by vmath_amd64.s and batchnorm_amd64.s (each including file gets its own
// file-local copy of the constant table vmc).
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

// ---------------------------------------------------------------- AVX2 + FMA

// LOADC256 broadcasts Y15 −110, Y14 89, Y13 1, Y12 sign bit and zeroes Y11; the other
// constants are read from vmc as memory operands.
#define LOADC256 \
	VBROADCASTSS vmc<>+320(SB), Y15; \
	VBROADCASTSS vmc<>+352(SB), Y14; \
	VBROADCASTSS vmc<>+288(SB), Y13; \
	VBROADCASTSS vmc<>+416(SB), Y12; \
	VXORPS Y11, Y11, Y11

// EXPRED256 turns r = t into r = t − n·ln2 (ln2 in two parts) with n = round(t·log2e).
#define EXPRED256(n, r) \
	VMULPS vmc<>+0(SB), r, n; \
	VROUNDPS $0, n, n; \
	VFMADD231PS vmc<>+32(SB), n, r; \
	VFMADD231PS vmc<>+64(SB), n, r

// EXPPOLY256 sets p to the polynomial P(r) of expm1(r) = r + r²·P(r).
#define EXPPOLY256(r, p) \
	VMOVAPS vmc<>+96(SB), p; \
	VFMADD213PS vmc<>+128(SB), r, p; \
	VFMADD213PS vmc<>+160(SB), r, p; \
	VFMADD213PS vmc<>+192(SB), r, p; \
	VFMADD213PS vmc<>+224(SB), r, p; \
	VFMADD213PS vmc<>+256(SB), r, p

// EXPM1R256 sets n = round(t·log2e) and q = expm1(t − n·ln2) (r and r2 are scratch).
#define EXPM1R256(t, n, r, q, r2) \
	VMOVAPS t, r; \
	EXPRED256(n, r); \
	EXPPOLY256(r, q); \
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

// The stages of vmSwishAVX2's pipeline (Y12 sign bit, Y13 1; Y9, Y10, Y14, Y15 and AX
// scratch). SWPA loads the next vector at SI into x and sets n = round(t·log2e) and
// r = t − n·ln2 for t = −|x|, leaving the pipeline (swpstop) when t is out of the
// short path's range or NaN. SWPB turns r into q = expm1(r). SWPC finishes
// swish = (x < 0 ? x·e : x)/(1 + e), e = (1 + q)·2ⁿ, and stores it at DI.
#define SWPA(x, n, r) \
	VMOVUPS (SI), x; \
	VORPS Y12, x, r; \
	VCMPPS $9, vmc<>+384(SB), r, Y15; \
	VMOVMSKPS Y15, AX; \
	TESTL AX, AX; \
	JNZ swpstop; \
	ADDQ $32, SI; \
	EXPRED256(n, r)

#define SWPB(r) \
	EXPPOLY256(r, Y9); \
	VMULPS r, r, Y10; \
	VFMADD231PS Y9, Y10, r

#define SWPC(x, n, r) \
	VADDPS Y13, r, r; \
	VCVTPS2DQ n, n; \
	VPSLLD $23, n, n; \
	VPADDD n, r, r; \
	VADDPS Y13, r, Y14; \
	VMULPS x, r, r; \
	VBLENDVPS x, r, x, r; \
	VDIVPS Y14, r, r; \
	VMOVUPS r, (DI); \
	ADDQ $32, DI
