package data

import (
	"encoding/json"
	"slices"
	"testing"
)

// smallSet is a 10-image 4×4 grey dataset with labels equal to the index.
func smallSet() *Dataset {
	ds := &Dataset{Name: "small", Images: seq(10*16, 37, 11), N: 10, H: 4, W: 4, C: 1}
	for i := 0; i < 10; i++ {
		ds.Labels = append(ds.Labels, i)
	}
	return ds
}

// collect takes n batches, copying what it needs before releasing them.
func collect(t *testing.T, l *Loader, n int) []Batch {
	t.Helper()
	var out []Batch
	for i := 0; i < n; i++ {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		c := *b
		c.X = b.X.Clone()
		b.Release()
		out = append(out, c)
	}
	return out
}

func sameBatches(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Epoch != b[i].Epoch || a[i].Step != b[i].Step || !slices.Equal(a[i].Indices, b[i].Indices) ||
			!slices.Equal(a[i].Labels, b[i].Labels) || !slices.Equal(a[i].X.Shape(), b[i].X.Shape()) ||
			!slices.Equal(a[i].X.Data(), b[i].X.Data()) {
			return false
		}
	}
	return true
}

var binCfg = LoaderConfig{BatchSize: 3, Shuffle: true, DropLast: true, Seed: 42, Transform: Transform{Pad: 2, Binarize: true}}

func TestLoaderEpochs(t *testing.T) {
	ds := smallSet()
	for _, drop := range []bool{true, false} {
		cfg := binCfg
		cfg.DropLast = drop
		l, err := NewLoader(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := 3
		if !drop {
			want = 4
		}
		if l.BatchesPerEpoch() != want || l.ImageShape() != [3]int{8, 8, 1} {
			t.Fatalf("drop=%v: %d batches, shape %v", drop, l.BatchesPerEpoch(), l.ImageShape())
		}
		bs := collect(t, l, 3*want)
		l.Close()
		var orders [][]int
		for e := 0; e < 3; e++ {
			var seen []int
			for s := 0; s < want; s++ {
				b := bs[e*want+s]
				if b.Epoch != e || b.Step != s {
					t.Fatalf("batch %d has epoch %d step %d", e*want+s, b.Epoch, b.Step)
				}
				n := len(b.Indices)
				if sh := b.X.Shape(); !slices.Equal(sh, []int{n, 8, 8, 1}) {
					t.Fatalf("shape %v", sh)
				}
				if n != 3 && !(s == want-1 && !drop && n == 1) {
					t.Fatalf("batch of %d", n)
				}
				if !slices.Equal(b.Labels, b.Indices) {
					t.Fatal("labels do not follow the indices")
				}
				for _, v := range b.X.Data() {
					if v != 0 && v != 1 {
						t.Fatalf("non-binary value %v", v)
					}
				}
				seen = append(seen, b.Indices...)
			}
			sorted := slices.Clone(seen)
			slices.Sort(sorted)
			if len(slices.Compact(sorted)) != len(seen) {
				t.Fatalf("epoch %d repeats an image: %v", e, seen)
			}
			if !drop && len(seen) != 10 {
				t.Fatalf("epoch %d covers %d images", e, len(seen))
			}
			orders = append(orders, seen)
		}
		if slices.Equal(orders[0], orders[1]) && slices.Equal(orders[1], orders[2]) {
			t.Fatal("the order does not change between epochs")
		}
	}
}

func TestLoaderDeterministic(t *testing.T) {
	ds := smallSet()
	run := func(cfg LoaderConfig) []Batch {
		l, err := NewLoader(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return collect(t, l, 10)
	}
	a := run(binCfg)
	slow := binCfg
	slow.Prefetch = 1
	if !sameBatches(a, run(slow)) {
		t.Fatal("same seed, different prefetch: different batches")
	}
	other := binCfg
	other.Seed = 43
	if sameBatches(a, run(other)) {
		t.Fatal("different seeds gave identical batches")
	}
	// Unshuffled, untransformed: batches are the images in order, /255.
	plain := LoaderConfig{BatchSize: 4}
	bs := run(plain)
	if !slices.Equal(bs[0].Indices, []int{0, 1, 2, 3}) || !slices.Equal(bs[2].Indices, []int{8, 9}) || bs[3].Epoch != 1 {
		t.Fatalf("plain order: %v %v", bs[0].Indices, bs[2].Indices)
	}
	for i, v := range bs[1].X.Data() {
		if v != float32(ds.Images[4*16+i])/255 {
			t.Fatal("plain batch values differ from the images")
		}
	}
}

func TestLoaderResume(t *testing.T) {
	ds := smallSet()
	const total, k = 11, 4
	l, err := NewLoader(ds, binCfg)
	if err != nil {
		t.Fatal(err)
	}
	all := collect(t, l, total)
	l.Close()

	l2, _ := NewLoader(ds, binCfg)
	collect(t, l2, k)
	st := l2.State()
	if st.Epoch != 1 || st.Step != 1 {
		t.Fatalf("state after %d batches: %+v", k, st)
	}
	l2.Close()
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var st2 LoaderState
	if err := json.Unmarshal(js, &st2); err != nil || st2 != st {
		t.Fatalf("JSON round trip: %v %+v", err, st2)
	}

	// A new loader with another seed adopts the saved one.
	cfg := binCfg
	cfg.Seed = 7
	l3, _ := NewLoader(ds, cfg)
	defer l3.Close()
	if err := l3.Restore(st2); err != nil {
		t.Fatal(err)
	}
	if !sameBatches(all[k:], collect(t, l3, total-k)) {
		t.Fatal("restored loader does not continue the sequence")
	}
	// Restore on a running loader (batches already prefetched) rewinds it.
	if err := l3.Restore(st2); err != nil {
		t.Fatal(err)
	}
	if !sameBatches(all[k:k+2], collect(t, l3, 2)) {
		t.Fatal("restore on a running loader")
	}

	bad := st2
	bad.BatchSize = 4
	if l3.Restore(bad) == nil {
		t.Error("mismatched batch size accepted")
	}
	bad = st2
	bad.Step = 3
	if l3.Restore(bad) == nil {
		t.Error("step beyond the epoch accepted")
	}
}

func TestLoaderClose(t *testing.T) {
	l, err := NewLoader(smallSet(), binCfg)
	if err != nil {
		t.Fatal(err)
	}
	collect(t, l, 1)
	done := l.done
	l.Close()
	select {
	case <-done:
	default:
		t.Fatal("producer still running after Close")
	}
	l.Close()
	if _, err := l.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	if err := l.Restore(l.State()); err == nil {
		t.Fatal("Restore after Close succeeded")
	}
	// Closing a loader that never started is fine.
	l2, _ := NewLoader(smallSet(), binCfg)
	l2.Close()
}

func TestNewLoaderErrors(t *testing.T) {
	ds := smallSet()
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 0}); err == nil {
		t.Error("batch size 0 accepted")
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 11, DropLast: true}); err == nil {
		t.Error("no full batch with drop-last accepted")
	}
	if _, err := NewLoader(&Dataset{Name: "empty", H: 1, W: 1, C: 1}, LoaderConfig{BatchSize: 1}); err == nil {
		t.Error("empty dataset accepted")
	}
	if _, err := NewLoader(ds, LoaderConfig{BatchSize: 1, Transform: Transform{NumBits: 9}}); err == nil {
		t.Error("9 bits accepted")
	}
}

// BenchmarkLoaderEmbedded measures batch preparation for the official MNIST-like
// pipeline (pad to 32×32, dynamic binarisation) at the default batch size of 200.
func BenchmarkLoaderEmbedded(b *testing.B) {
	ds, err := Embedded("train")
	if err != nil {
		b.Fatal(err)
	}
	tr, _ := OfficialTransform("embedded", true, 8)
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 200, Shuffle: true, DropLast: true, Seed: 1, Transform: tr})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		bt, _ := l.Next()
		bt.Release()
	}
}
