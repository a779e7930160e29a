package cpu

import (
	"slices"
	"strings"
	"testing"
)

// forEachVariant runs f as a subtest once per registered variant of the family,
// with that variant forced. Variants whose CPU features this machine lacks are
// skipped, naming the missing features; every supported one runs.
func forEachVariant(t *testing.T, family string, f func(t *testing.T)) {
	t.Helper()
	for _, v := range familyVariants(t, family) {
		t.Run(v.name, func(t *testing.T) {
			defer forceForTest(t, family, v)()
			f(t)
		})
	}
}

// benchVariants is forEachVariant for benchmarks.
func benchVariants(b *testing.B, family string, f func(b *testing.B)) {
	b.Helper()
	for _, v := range familyVariants(b, family) {
		b.Run(v.name, func(b *testing.B) {
			defer forceForTest(b, family, v)()
			f(b)
		})
	}
}

func familyVariants(tb testing.TB, family string) []variantInfo {
	tb.Helper()
	fam, ok := families[family]
	if !ok {
		tb.Fatalf("no kernel family %q", family)
	}
	return fam.variants()
}

// forceForTest forces v (skipping when the CPU lacks it) and returns the restore.
func forceForTest(tb testing.TB, family string, v variantInfo) (restore func()) {
	tb.Helper()
	if len(v.missing) > 0 {
		tb.Skipf("%s/%s: this CPU lacks %s", family, v.name, strings.Join(v.missing, ", "))
	}
	restore, err := ForceVariant(family, v.name)
	if err != nil {
		tb.Fatal(err)
	}
	if got := KernelVariant(family); got != v.name {
		restore()
		tb.Fatalf("KernelVariant(%q) = %q after ForceVariant(%q)", family, got, v.name)
	}
	return restore
}

func TestKernelFamilies(t *testing.T) {
	want := []string{FamilyConv, FamilyGemm, FamilyPack, FamilyPeak, FamilyVMath, FamilyVec}
	slices.Sort(want)
	if got := KernelFamilies(); !slices.Equal(got, want) {
		t.Fatalf("KernelFamilies() = %v, want %v", got, want)
	}
	for _, fam := range want {
		vs := KernelVariants(fam)
		// The portable variant is always there, and least preferred; by default the
		// first (most preferred) supported variant is in use.
		if len(vs) == 0 || vs[len(vs)-1] != "go" {
			t.Errorf("KernelVariants(%q) = %v, want the portable \"go\" last", fam, vs)
			continue
		}
		if cur := KernelVariant(fam); cur != vs[0] {
			t.Errorf("KernelVariant(%q) = %q, want the preferred %q", fam, cur, vs[0])
		}
		// Every registered variant is either supported (listed) or lacks a feature.
		for _, v := range families[fam].variants() {
			if supported := len(v.missing) == 0; supported != slices.Contains(vs, v.name) {
				t.Errorf("%s/%s: missing %v but listed=%v", fam, v.name, v.missing, !supported)
			}
		}
	}
}

func TestForceVariantErrors(t *testing.T) {
	for _, tc := range []struct {
		family, name, wantErr string
	}{
		{"nope", "go", "no such family"},
		{FamilyGemm, "nope", "no such variant"},
	} {
		restore, err := ForceVariant(tc.family, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || restore != nil {
			t.Errorf("ForceVariant(%q, %q) = %v, want an error containing %q", tc.family, tc.name, err, tc.wantErr)
		}
	}
	// An unsupported variant (when this CPU lacks one) is refused, naming the feature.
	for _, fam := range KernelFamilies() {
		for _, v := range families[fam].variants() {
			if len(v.missing) == 0 {
				continue
			}
			if _, err := ForceVariant(fam, v.name); err == nil || !strings.Contains(err.Error(), v.missing[0]) {
				t.Errorf("ForceVariant(%q, %q) = %v, want an error naming %s", fam, v.name, err, v.missing[0])
			}
		}
	}
	if KernelVariants("nope") != nil || KernelVariant("nope") != "" {
		t.Error("an unknown family has variants")
	}
}

// TestForceVariantRestore checks that restore brings back the variant in use before.
func TestForceVariantRestore(t *testing.T) {
	for _, fam := range KernelFamilies() {
		before := KernelVariant(fam)
		restore, err := ForceVariant(fam, "go")
		if err != nil {
			t.Fatal(err)
		}
		if got := KernelVariant(fam); got != "go" {
			t.Errorf("%s: forced go, in use %q", fam, got)
		}
		restore()
		if got := KernelVariant(fam); got != before {
			t.Errorf("%s: restored %q, want %q", fam, got, before)
		}
	}
}
