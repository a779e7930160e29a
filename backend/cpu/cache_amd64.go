package cpu

// cpuid executes CPUID with the given leaf (EAX) and subleaf (ECX).
//
//go:noescape
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// cpuidCaches reads the cache sizes from the deterministic cache parameters of
// CPUID: leaf 4 on Intel, leaf 0x8000001D on AMD (same layout; it needs the
// TOPOEXT feature, CPUID 0x80000001 ECX bit 22).
func cpuidCaches() (CacheInfo, bool) {
	max0, b, c, d := cpuid(0, 0)
	vendor := string([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24),
		byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24),
		byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)})
	leaf := uint32(4)
	switch vendor {
	case "GenuineIntel":
		if max0 < 4 {
			return CacheInfo{}, false
		}
	case "AuthenticAMD", "HygonGenuine":
		maxExt, _, _, _ := cpuid(0x80000000, 0)
		if maxExt < 0x8000001D {
			return CacheInfo{}, false
		}
		if _, _, ecx, _ := cpuid(0x80000001, 0); ecx&(1<<22) == 0 {
			return CacheInfo{}, false
		}
		leaf = 0x8000001D
	default:
		return CacheInfo{}, false
	}
	ci := defaultCaches
	ci.Source = "cpuid"
	found := false
	for sub := uint32(0); sub < 16; sub++ {
		eax, ebx, ecx, _ := cpuid(leaf, sub)
		typ := eax & 0x1f // 0: no more caches, 1: data, 2: instruction, 3: unified
		if typ == 0 {
			break
		}
		if typ == 2 {
			continue
		}
		ways := int(ebx>>22) + 1
		parts := int(ebx>>12&0x3ff) + 1
		line := int(ebx&0xfff) + 1
		sets := int(ecx) + 1
		size := ways * parts * line * sets
		switch (eax >> 5) & 7 {
		case 1:
			ci.L1D = size
		case 2:
			ci.L2 = size
		case 3:
			ci.L3 = size
		default:
			continue
		}
		found = true
	}
	return ci, found
}
