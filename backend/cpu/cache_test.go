package cpu

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseCacheSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"32K", 32 << 10, true}, {"1024K", 1 << 20, true}, {"32M", 32 << 20, true}, {"1G", 1 << 30, true},
		{"4096", 4096, true}, {"", 0, false}, {"K", 0, false}, {"-3K", 0, false}, {"12Q", 0, false},
	} {
		got, ok := parseCacheSize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCacheSize(%q) = %d, %v, want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSysfsCaches(t *testing.T) {
	dir := t.TempDir()
	for name, files := range map[string][3]string{
		"index0": {"1", "Data", "48K"},
		"index1": {"1", "Instruction", "32K"}, // ignored
		"index2": {"2", "Unified", "2048K"},
		"index3": {"3", "Unified", "105M"},
	} {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, f := range []string{"level", "type", "size"} {
			if err := os.WriteFile(filepath.Join(d, f), []byte(files[i]+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, ok := sysfsCaches(dir)
	want := CacheInfo{L1D: 48 << 10, L2: 2 << 20, L3: 105 << 20, Source: "sysfs"}
	if !ok || got != want {
		t.Errorf("sysfsCaches = %+v, %v, want %+v", got, ok, want)
	}
	if _, ok := sysfsCaches(filepath.Join(dir, "none")); ok {
		t.Error("sysfsCaches of a missing directory reports sizes")
	}
}

// TestFitCaches checks the blocking bounds: kc from L1, nc (or mc, for bInL1 shapes)
// from L2 plus the L3 share, never above the tuned ceilings nor below 4 tiles.
func TestFitCaches(t *testing.T) {
	mk := func() *gemmVariant {
		return &gemmVariant{mr: 14, nr: 32, kcMax: 384, mcMax: 14 * 24, ncMax: 32 * 64,
			alts: []*gemmVariant{{mr: 8, nr: 48, kcMax: 192, mcMax: 8 * 40, ncMax: 48 * 44, bInL1: true}}}
	}
	for _, tc := range []struct {
		c                    CacheInfo
		threads              int
		kc, nc, altKC, altMC int
	}{
		// Large caches: the tuned values stay.
		{CacheInfo{L1D: 48 << 10, L2: 1 << 20, L3: 32 << 20}, 16, 384, 2048, 192, 320},
		// L1 of 32 KiB: 3/4·32 KiB / (4·48) = 128 for the 8×48 shape.
		{CacheInfo{L1D: 32 << 10, L2: 1 << 20, L3: 32 << 20}, 16, 384, 2048, 128, 320},
		// Many threads on one L3: (1 MiB + 32 MiB/112) / (4·384) = 873 → 864.
		{CacheInfo{L1D: 48 << 10, L2: 1 << 20, L3: 32 << 20}, 112, 384, 864, 192, 320},
		// Tiny caches: floors of 64 deep and 4 tiles.
		{CacheInfo{L1D: 1 << 10, L2: 1 << 10, L3: 0}, 1, 64, 128, 64, 32},
	} {
		v := mk().fitCaches(tc.c, tc.threads)
		if v.kcMax != tc.kc || v.ncMax != tc.nc || v.alts[0].kcMax != tc.altKC || v.alts[0].mcMax != tc.altMC {
			t.Errorf("%+v ×%d: kc %d nc %d, alt kc %d mc %d; want %d %d %d %d", tc.c, tc.threads,
				v.kcMax, v.ncMax, v.alts[0].kcMax, v.alts[0].mcMax, tc.kc, tc.nc, tc.altKC, tc.altMC)
		}
		if v.mcMax != 14*24 || v.alts[0].ncMax != 48*44 {
			t.Errorf("%+v: bounds changed the other dimension", tc.c)
		}
	}
	if c := CacheSizes(); c.L1D <= 0 || c.L2 <= 0 || c.Source == "" {
		t.Errorf("CacheSizes() = %+v", c)
	}
}
