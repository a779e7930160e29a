package data

import (
	"slices"
	"testing"
)

// TestShardDistributedSampler compares Shard with PyTorch's DistributedSampler
// (drop_last=False) on hand-computed cases. For an order of length N and world size W,
// the sampler takes num_samples = ceil(N/W), total_size = num_samples·W, pads with
// indices += indices[:total_size-N] (or, when the padding is longer than N, with
// (indices * ceil(padding/N))[:padding]), and gives rank r indices[r:total_size:W].
func TestShardDistributedSampler(t *testing.T) {
	perm10 := []int{3, 7, 1, 9, 0, 5, 2, 8, 6, 4}
	for _, tc := range []struct {
		name    string
		indices []int
		world   int
		want    [][]int // per rank
	}{
		// N=10, W=4: total 12, padded [3 7 1 9 0 5 2 8 6 4 | 3 7].
		{"padding shorter than N", perm10, 4, [][]int{{3, 0, 6}, {7, 5, 4}, {1, 2, 3}, {9, 8, 7}}},
		// N=10, W=3: total 12, padded [... | 3 7].
		{"two pads", perm10, 3, [][]int{{3, 9, 2, 4}, {7, 0, 8, 3}, {1, 5, 6, 7}}},
		// N=10, W=2 and W=5: no padding.
		{"exact W=2", perm10, 2, [][]int{{3, 1, 0, 2, 6}, {7, 9, 5, 8, 4}}},
		{"exact W=5", perm10, 5, [][]int{{3, 5}, {7, 2}, {1, 8}, {9, 6}, {0, 4}}},
		// N=2, W=5: total 5, padding 3 > 2: indices += (indices*2)[:3] → [5 9 | 5 9 5].
		{"padding longer than N", []int{5, 9}, 5, [][]int{{5}, {9}, {5}, {9}, {5}}},
		// N=3, W=8: padding 5 > 3: indices += (indices*2)[:5] → [4 0 2 | 4 0 2 4 0].
		{"padding longer than N, W=8", []int{4, 0, 2}, 8, [][]int{{4}, {0}, {2}, {4}, {0}, {2}, {4}, {0}}},
		// N=7, W=3: total 9, padded [6 5 4 3 2 1 0 | 6 5].
		{"N=7 W=3", []int{6, 5, 4, 3, 2, 1, 0}, 3, [][]int{{6, 3, 0}, {5, 2, 6}, {4, 1, 5}}},
		{"world 1", perm10, 1, [][]int{perm10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for r, want := range tc.want {
				got, err := Shard(tc.indices, r, tc.world)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("Shard(%v, %d, %d) = %v, want %v", tc.indices, r, tc.world, got, want)
				}
			}
		})
	}
	for _, bad := range [][2]int{{0, 0}, {-1, 2}, {2, 2}} {
		if _, err := Shard(perm10, bad[0], bad[1]); err == nil {
			t.Errorf("Shard(rank %d, world %d) accepted", bad[0], bad[1])
		}
	}
}

// TestLoaderShards checks, for a few (size, world, epoch) cases, that the ranks'
// loaders visit exactly Shard of the unsharded loader's epoch order, with the same
// number of batches on every rank.
func TestLoaderShards(t *testing.T) {
	for _, tc := range []struct{ n, world, batch, epochs int }{
		{10, 2, 2, 3}, {10, 3, 2, 2}, {10, 4, 3, 2}, {7, 3, 1, 3}, {3, 8, 1, 2},
	} {
		ds := smallSet()
		ds.N, ds.Images, ds.Labels = tc.n, ds.Images[:tc.n*16], ds.Labels[:tc.n]
		base := LoaderConfig{BatchSize: tc.n, Shuffle: true, Seed: 42, Transform: Transform{Pad: 1}}
		full, err := NewLoader(ds, base)
		if err != nil {
			t.Fatal(err)
		}
		var orders [][]int // epoch order of the unsharded loader
		for _, b := range collect(t, full, tc.epochs) {
			orders = append(orders, b.Indices)
		}
		full.Close()
		per := (tc.n + tc.world - 1) / tc.world
		bpe := (per + tc.batch - 1) / tc.batch
		for r := 0; r < tc.world; r++ {
			cfg := base
			cfg.BatchSize, cfg.Rank, cfg.World = tc.batch, r, tc.world
			l, err := NewLoader(ds, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if l.BatchesPerEpoch() != bpe {
				t.Fatalf("n=%d world=%d rank %d: %d batches per epoch, want %d", tc.n, tc.world, r, l.BatchesPerEpoch(), bpe)
			}
			got := make([][]int, tc.epochs)
			for _, b := range collect(t, l, bpe*tc.epochs) {
				got[b.Epoch] = append(got[b.Epoch], b.Indices...)
			}
			l.Close()
			for e := range got {
				want, _ := Shard(orders[e], r, tc.world)
				if !slices.Equal(got[e], want) {
					t.Errorf("n=%d world=%d epoch %d rank %d: indices %v, want %v", tc.n, tc.world, e, r, got[e], want)
				}
			}
			st := l.State()
			if st.Rank != r || st.World != tc.world {
				t.Errorf("state rank %d world %d, want %d %d", st.Rank, st.World, r, tc.world)
			}
		}
	}
}

// TestLoaderWorldOne checks that World 1 (and Rank 0) is the unsharded loader, batch
// for batch, images included.
func TestLoaderWorldOne(t *testing.T) {
	ds := smallSet()
	cfg := LoaderConfig{BatchSize: 3, Shuffle: true, Seed: 9, Transform: Transform{Pad: 2, Binarize: true}}
	a, _ := NewLoader(ds, cfg)
	defer a.Close()
	cfg.World = 1
	b, _ := NewLoader(ds, cfg)
	defer b.Close()
	if !sameBatches(collect(t, a, 8), collect(t, b, 8)) {
		t.Fatal("World 1 differs from the unsharded loader")
	}
	if st := b.State(); st.World != 0 || st.Rank != 0 {
		t.Fatalf("unsharded state has rank %d world %d, want 0 0", st.Rank, st.World)
	}
}

// TestLoaderShardResume checks that a sharded loader resumes its own sequence and
// refuses a state of another rank or world size.
func TestLoaderShardResume(t *testing.T) {
	ds := smallSet()
	cfg := LoaderConfig{BatchSize: 2, Shuffle: true, Seed: 5, Rank: 1, World: 3, Transform: Transform{Pad: 1}}
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := collect(t, l, 7)
	l.Close()
	l2, _ := NewLoader(ds, cfg)
	collect(t, l2, 3)
	st := l2.State()
	l2.Close()
	l3, _ := NewLoader(ds, cfg)
	defer l3.Close()
	if err := l3.Restore(st); err != nil {
		t.Fatal(err)
	}
	if !sameBatches(all[3:], collect(t, l3, 4)) {
		t.Fatal("restored sharded loader does not continue its sequence")
	}
	for _, bad := range []struct{ rank, world int }{{0, 3}, {1, 2}, {0, 0}} {
		s := st
		s.Rank, s.World = bad.rank, bad.world
		if err := l3.Restore(s); err == nil {
			t.Errorf("state of rank %d world %d accepted by rank 1 of 3", bad.rank, bad.world)
		}
	}
	for _, bad := range []struct{ rank, world int }{{1, 1}, {-1, 2}, {0, -1}} {
		c := cfg
		c.Rank, c.World = bad.rank, bad.world
		if _, err := NewLoader(ds, c); err == nil {
			t.Errorf("NewLoader accepted rank %d of world %d", bad.rank, bad.world)
		}
	}
}
