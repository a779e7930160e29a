package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bnRef is a float64 reference of batch norm (+ Swish) forward and backward.
type bnRef struct {
	mean, variance    []float64
	y                 []float64
	yScale            []float64 // magnitude of the terms of each y, for tolerances
	gx, ggamma, gbeta []float64
	gxScale           []float64
}

func swishGradRef(z float64) float64 {
	s := sig64(z)
	return s * (1 + z*(1-s))
}

// refBN computes the reference from x and the float32 statistics actually used
// (mean32/var32), as BNForward and BNBackward receive them.
func refBN(p BNParams, train bool, x, mean32, var32, gamma, beta, gy []float32) bnRef {
	m, c := p.M, p.C
	var r bnRef
	r.mean, r.variance = make([]float64, c), make([]float64, c)
	for j := 0; j < c; j++ {
		for i := 0; i < m; i++ {
			r.mean[j] += float64(x[i*c+j])
		}
		r.mean[j] /= float64(m)
		for i := 0; i < m; i++ {
			d := float64(x[i*c+j]) - r.mean[j]
			r.variance[j] += d * d
		}
		r.variance[j] /= float64(m)
	}
	inv := make([]float64, c)
	for j := range inv {
		inv[j] = 1 / math.Sqrt(float64(var32[j])+float64(p.Eps))
	}
	r.y, r.yScale = make([]float64, m*c), make([]float64, m*c)
	dz, xh := make([]float64, m*c), make([]float64, m*c)
	dzScale := make([]float64, m*c) // magnitude of the terms of dz
	r.ggamma, r.gbeta = make([]float64, c), make([]float64, c)
	for i := 0; i < m*c; i++ {
		j := i % c
		xh[i] = (float64(x[i]) - float64(mean32[j])) * inv[j]
		z := xh[i]*float64(gamma[j]) + float64(beta[j])
		scale := math.Abs(float64(x[i])*inv[j]*float64(gamma[j])) + math.Abs(float64(mean32[j])*inv[j]*float64(gamma[j])) + math.Abs(float64(beta[j]))
		dz[i] = float64(gy[i])
		dzScale[i] = math.Abs(dz[i])
		if p.Swish {
			r.y[i] = z * sig64(z)
			r.yScale[i] = scale * math.Max(sig64(z), math.Abs(swishGradRef(z)))
			dz[i] *= swishGradRef(z)
			s := sig64(z)
			dzScale[i] *= s*(1+math.Abs(z)*(1-s)) + scale
		} else {
			r.y[i] = z
			r.yScale[i] = scale
		}
		r.gbeta[j] += dz[i]
		r.ggamma[j] += dz[i] * xh[i]
	}
	r.gx, r.gxScale = make([]float64, m*c), make([]float64, m*c)
	for i := 0; i < m*c; i++ {
		j := i % c
		a := float64(gamma[j]) * inv[j]
		if train {
			b, cc := r.gbeta[j]/float64(m), r.ggamma[j]/float64(m)
			r.gx[i] = a * (dz[i] - b - xh[i]*cc)
			r.gxScale[i] = math.Abs(a) * (dzScale[i] + math.Abs(b) + math.Abs(xh[i]*cc))
		} else {
			r.gx[i] = a * dz[i]
			r.gxScale[i] = math.Abs(a) * dzScale[i]
		}
	}
	return r
}

func randBN(seed uint64, p BNParams) (x, gamma, beta, gy []float32) {
	r := rand.New(rand.NewPCG(seed, 3))
	x = make([]float32, p.M*p.C)
	gy = make([]float32, p.M*p.C)
	gamma, beta = make([]float32, p.C), make([]float32, p.C)
	off := make([]float32, p.C)
	for j := range gamma {
		gamma[j] = 0.5 + r.Float32()
		beta[j] = r.Float32()*2 - 1
		off[j] = float32(r.NormFloat64()) * 3 // channels with a large mean
	}
	for i := range x {
		x[i] = float32(r.NormFloat64())*2 + off[i%p.C]
		gy[i] = float32(r.NormFloat64())
	}
	return
}

func bnCases() []BNParams {
	var ps []BNParams
	for _, c := range []int{1, 5, 8, 16, 20, 24, 32, 40, 64, 100} {
		for _, m := range []int{1, 7, 300} {
			ps = append(ps, BNParams{M: m, C: c, Eps: 1e-5, Swish: true}, BNParams{M: m, C: c, Eps: 1e-5})
		}
	}
	return ps
}

func TestBNAgainstReference(t *testing.T) {
	forEachVMath(t, func(t *testing.T) {
		for i, p := range bnCases() {
			for _, train := range []bool{true, false} {
				t.Run(fmt.Sprintf("M%d_C%d_swish%v_train%v", p.M, p.C, p.Swish, train), func(t *testing.T) {
					checkBN(t, uint64(i), p, train)
				})
			}
		}
	})
}

func checkBN(t *testing.T, seed uint64, p BNParams, train bool) {
	x, gamma, beta, gy := randBN(seed, p)
	c := p.C
	mean, variance := make([]float32, c), make([]float32, c)
	BNStats(p, x, mean, variance)
	if !train {
		// running statistics: some other values
		for j := range mean {
			mean[j] += 0.1
			variance[j] = variance[j]*1.5 + 0.2
		}
	}
	ref := refBN(p, train, x, mean, variance, gamma, beta, gy)
	if train {
		for j := 0; j < c; j++ {
			sd := math.Sqrt(ref.variance[j])
			if e := math.Abs(float64(mean[j]) - ref.mean[j]); e > 1e-7*(math.Abs(ref.mean[j])+sd) {
				t.Fatalf("mean[%d] = %g, want %g", j, mean[j], ref.mean[j])
			}
			if e := math.Abs(float64(variance[j]) - ref.variance[j]); e > 2e-7*ref.variance[j]+1e-30 {
				t.Fatalf("variance[%d] = %g, want %g", j, variance[j], ref.variance[j])
			}
		}
	}
	y := make([]float32, len(x))
	BNForward(p, x, mean, variance, gamma, beta, y)
	for i := range y {
		if e := math.Abs(float64(y[i]) - ref.y[i]); e > 4e-7*ref.yScale[i]+1e-30 {
			t.Fatalf("y[%d] = %g, want %g", i, y[i], ref.y[i])
		}
	}
	gx := make([]float32, len(x))
	for i := range gx {
		gx[i] = 0.25 // accumulates
	}
	gg, gb := make([]float32, c), make([]float32, c)
	BNBackward(p, train, x, mean, variance, gamma, beta, gy, gx, gg, gb)
	for j := 0; j < c; j++ {
		var sg, sb float64
		for i := 0; i < p.M; i++ {
			sb += math.Abs(float64(gy[i*c+j]))
			sg += math.Abs(float64(gy[i*c+j]) * (float64(x[i*c+j]) - float64(mean[j])) / math.Sqrt(float64(variance[j])))
		}
		if e := math.Abs(float64(gb[j]) - ref.gbeta[j]); e > 1e-6*sb {
			t.Fatalf("gbeta[%d] = %g, want %g", j, gb[j], ref.gbeta[j])
		}
		if e := math.Abs(float64(gg[j]) - ref.ggamma[j]); e > 1e-6*sg {
			t.Fatalf("ggamma[%d] = %g, want %g", j, gg[j], ref.ggamma[j])
		}
	}
	for i := range gx {
		if e := math.Abs(float64(gx[i]) - 0.25 - ref.gx[i]); e > 1e-6*ref.gxScale[i]+3e-8 {
			t.Fatalf("gx[%d] = %g, want %g", i, gx[i]-0.25, ref.gx[i])
		}
	}
	// gx alone, and nothing at all
	gx2 := make([]float32, len(x))
	for i := range gx2 {
		gx2[i] = 0.25
	}
	BNBackward(p, train, x, mean, variance, gamma, beta, gy, gx2, nil, nil)
	BNBackward(p, train, x, mean, variance, gamma, beta, gy, nil, nil, nil)
	if !slices.Equal(gx, gx2) {
		t.Fatal("gx differs when the parameter gradients are not requested")
	}
	// BNBackwardSet over garbage: bit for bit what accumulating into zeros gives.
	gx0, gxs := make([]float32, len(x)), make([]float32, len(x))
	for i := range gxs {
		gxs[i] = float32(i%7) - 3.5
	}
	gg0, gb0 := make([]float32, c), make([]float32, c)
	ggs, gbs := make([]float32, c), make([]float32, c)
	BNBackward(p, train, x, mean, variance, gamma, beta, gy, gx0, gg0, gb0)
	BNBackwardSet(p, train, x, mean, variance, gamma, beta, gy, gxs, ggs, gbs)
	for i := range gx0 {
		if math.Float32bits(gx0[i]) != math.Float32bits(gxs[i]) {
			t.Fatalf("BNBackwardSet: gx[%d] = %v, want %v", i, gxs[i], gx0[i])
		}
	}
	if !slices.Equal(gg0, ggs) || !slices.Equal(gb0, gbs) {
		t.Fatal("BNBackwardSet: parameter gradients differ")
	}
}

// TestBNDeterministic checks that repeated calls give bit-identical results.
func TestBNDeterministic(t *testing.T) {
	p := BNParams{M: 2000, C: 48, Eps: 1e-5, Swish: true}
	x, gamma, beta, gy := randBN(9, p)
	run := func() [][]float32 {
		mean, variance := make([]float32, p.C), make([]float32, p.C)
		BNStats(p, x, mean, variance)
		y, gx := make([]float32, len(x)), make([]float32, len(x))
		gg, gb := make([]float32, p.C), make([]float32, p.C)
		BNForward(p, x, mean, variance, gamma, beta, y)
		BNBackward(p, true, x, mean, variance, gamma, beta, gy, gx, gg, gb)
		return [][]float32{mean, variance, y, gx, gg, gb}
	}
	forEachVMath(t, func(t *testing.T) {
		a := run()
		for k := 0; k < 3; k++ {
			b := run()
			for i := range a {
				if !slices.Equal(a[i], b[i]) {
					t.Fatalf("output %d differs between runs", i)
				}
			}
		}
	})
}

func BenchmarkBNSwish(b *testing.B) {
	benchVariants(b, FamilyVMath, func(b *testing.B) {
		m, c := 32*32*32, 64
		p := BNParams{M: m, C: c, Eps: 1e-5, Swish: true}
		x, gamma, beta, gy := randBN(1, p)
		y, dx := make([]float32, m*c), make([]float32, m*c)
		mean, variance := make([]float32, c), make([]float32, c)
		gg, gb := make([]float32, c), make([]float32, c)
		b.SetBytes(5 * 4 * int64(m*c))
		for b.Loop() {
			BNStats(p, x, mean, variance)
			BNForward(p, x, mean, variance, gamma, beta, y)
			BNBackward(p, true, x, mean, variance, gamma, beta, gy, dx, gg, gb)
		}
	})
}
