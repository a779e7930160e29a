package data

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/nvae-go/nvae/tensor"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	// BatchSize is the number of images per batch.
	BatchSize int
	// Shuffle visits the images in a fresh seeded random order every epoch; otherwise
	// in dataset order.
	Shuffle bool
	// DropLast drops the final incomplete batch of every epoch (training); otherwise it
	// is returned smaller.
	DropLast bool
	// Seed determines the shuffling and every random draw of the transform.
	Seed uint64
	// Transform is applied to every image.
	Transform Transform
	// Prefetch is the number of batches prepared ahead; 0 means 2.
	Prefetch int
	// Rank and World shard every epoch for data-parallel training: with World > 1,
	// the loader visits only Rank's part of the epoch's order, as Shard (PyTorch's
	// DistributedSampler) splits it, so every epoch has ceil(N/World) images on every
	// rank. World 0 or 1 (and Rank 0) is the whole dataset, as without sharding. All
	// ranks must use the same Seed.
	Rank, World int
}

// Batch is one batch of transformed images.
type Batch struct {
	// X holds the images as float32 NHWC [B,H,W,C] in [0,1]. Its storage comes from
	// the tensor buffer pool: Release hands it back when the caller is done.
	X *tensor.Tensor
	// Labels holds the images' labels, or is nil when the dataset has none.
	Labels []int
	// Indices holds the images' indices in the dataset.
	Indices []int
	// Epoch is the 0-based epoch and Step the 0-based batch index within it.
	Epoch, Step int
}

// Release returns X's storage to the tensor pool; the batch must not be used after.
func (b *Batch) Release() {
	if b != nil && b.X != nil {
		tensor.Put(b.X)
		b.X = nil
	}
}

// LoaderState is the position of a Loader: enough, with the same dataset and
// configuration, to continue its exact sequence of batches. It is a plain struct that
// encodes with encoding/json or encoding/gob.
type LoaderState struct {
	// Seed is the loader's seed.
	Seed uint64 `json:"seed"`
	// Epoch and Step locate the next batch Next will return.
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	// N, BatchSize, Shuffle and DropLast describe the loader and are checked on Restore.
	N         int  `json:"n"`
	BatchSize int  `json:"batch_size"`
	Shuffle   bool `json:"shuffle"`
	DropLast  bool `json:"drop_last"`
	// Rank and World are the loader's shard; both are 0 without sharding, so the
	// state of an unsharded loader is unchanged by their introduction.
	Rank  int `json:"rank,omitempty"`
	World int `json:"world,omitempty"`
}

// Loader turns a dataset into an endless sequence of batches, epoch after epoch. A
// goroutine prepares the next batches while the caller works on the current one.
//
// Randomness never depends on timing: the order of epoch e is a permutation drawn from
// a PCG generator seeded with (Seed, e), and the image at position p of epoch e is
// transformed with a PCG generator seeded with (Seed, e, p). The whole state is
// therefore the position (epoch, step), which State reports and Restore resumes from.
//
// A Loader is not safe for concurrent use; Close it to stop its goroutine.
type Loader struct {
	ds         *Dataset
	cfg        LoaderConfig
	bpe        int
	n          int // images per epoch: the shard's size
	oh, ow, oc int
	lut        *[256]float32

	epoch, step int // position of the batch the next Next returns

	ch     chan *Batch
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// NewLoader returns a loader over ds. It starts its goroutine on the first Next.
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("data: loader over empty dataset %s", ds.Name)
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: loader batch size %d is not positive", cfg.BatchSize)
	}
	if err := cfg.Transform.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	if cfg.World == 0 {
		cfg.World = 1
	}
	if cfg.World < 0 || cfg.Rank < 0 || cfg.Rank >= cfg.World {
		return nil, fmt.Errorf("data: loader rank %d of world size %d is out of range", cfg.Rank, cfg.World)
	}
	n := (ds.N + cfg.World - 1) / cfg.World
	bpe := n / cfg.BatchSize
	if !cfg.DropLast && n%cfg.BatchSize != 0 {
		bpe++
	}
	if bpe == 0 {
		return nil, fmt.Errorf("data: dataset %s has %d images (%d per rank of %d), fewer than one batch of %d with drop-last", ds.Name, ds.N, n, cfg.World, cfg.BatchSize)
	}
	l := &Loader{ds: ds, cfg: cfg, bpe: bpe, n: n, lut: cfg.Transform.levels()}
	l.oh, l.ow, l.oc = cfg.Transform.OutShape(ds.H, ds.W, ds.C)
	return l, nil
}

// BatchesPerEpoch is the number of batches in one epoch.
func (l *Loader) BatchesPerEpoch() int { return l.bpe }

// ImageShape is the [H, W, C] shape of one transformed image.
func (l *Loader) ImageShape() [3]int { return [3]int{l.oh, l.ow, l.oc} }

// Next returns the next batch, waiting for it if it is not ready yet.
func (l *Loader) Next() (*Batch, error) {
	if l.closed {
		return nil, errors.New("data: Next on a closed Loader")
	}
	if l.ch == nil {
		l.start()
	}
	b := <-l.ch
	l.epoch, l.step = b.Epoch, b.Step+1
	if l.step == l.bpe {
		l.epoch, l.step = l.epoch+1, 0
	}
	return b, nil
}

// State returns the loader's position: the batch the next Next call returns.
func (l *Loader) State() LoaderState {
	return LoaderState{
		Seed: l.cfg.Seed, Epoch: l.epoch, Step: l.step,
		N: l.ds.N, BatchSize: l.cfg.BatchSize, Shuffle: l.cfg.Shuffle, DropLast: l.cfg.DropLast,
		Rank: l.cfg.Rank, World: l.sharded(),
	}
}

// sharded is the world size when the loader shards, else 0.
func (l *Loader) sharded() int {
	if l.cfg.World > 1 {
		return l.cfg.World
	}
	return 0
}

// Restore moves the loader to the position in st, taking st's seed, so that the
// following batches are exactly those that followed when st was taken. The dataset,
// batch size, shuffle, drop-last, rank and world settings must match (a state without
// World is one of World 1); the transform is the
// loader's own and must be the same for an exact continuation.
func (l *Loader) Restore(st LoaderState) error {
	if l.closed {
		return errors.New("data: Restore on a closed Loader")
	}
	if st.N != l.ds.N || st.BatchSize != l.cfg.BatchSize || st.Shuffle != l.cfg.Shuffle || st.DropLast != l.cfg.DropLast {
		return fmt.Errorf("data: loader state (n=%d batch=%d shuffle=%v drop_last=%v) does not match the loader (n=%d batch=%d shuffle=%v drop_last=%v)",
			st.N, st.BatchSize, st.Shuffle, st.DropLast, l.ds.N, l.cfg.BatchSize, l.cfg.Shuffle, l.cfg.DropLast)
	}
	if w := max(st.World, 1); w != l.cfg.World || st.Rank != l.cfg.Rank {
		return fmt.Errorf("data: loader state of rank %d of world size %d does not match the loader's rank %d of world size %d",
			st.Rank, w, l.cfg.Rank, l.cfg.World)
	}
	if st.Epoch < 0 || st.Step < 0 || st.Step >= l.bpe {
		return fmt.Errorf("data: loader state epoch %d step %d out of range (%d batches per epoch)", st.Epoch, st.Step, l.bpe)
	}
	l.halt()
	l.cfg.Seed, l.epoch, l.step = st.Seed, st.Epoch, st.Step
	return nil
}

// Close stops the goroutine and releases the batches it had prepared. It is safe to
// call more than once.
func (l *Loader) Close() {
	l.halt()
	l.closed = true
}

// start launches the producer at the current position.
func (l *Loader) start() {
	l.ch = make(chan *Batch, l.cfg.Prefetch)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.produce(l.epoch, l.step, l.ch, l.stop, l.done)
}

// halt stops the producer, if running, and frees its unread batches.
func (l *Loader) halt() {
	if l.ch == nil {
		return
	}
	close(l.stop)
	<-l.done
	close(l.ch)
	for b := range l.ch {
		b.Release()
	}
	l.ch, l.stop, l.done = nil, nil, nil
}

// Stream-separating constants for the seeds.
const (
	permStream   = 0x7065726d5f5f5f31 // order of an epoch
	sampleStream = 0x73616d706c655f32 // transform draws of one image
)

// mix64 is the splitmix64 finaliser, used to derive independent seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// order returns the dataset indices in the order of epoch e: with sharding, this
// rank's part of it.
func (l *Loader) order(seed uint64, e int) []int {
	var idx []int
	if l.cfg.Shuffle {
		idx = rand.New(rand.NewPCG(mix64(seed^permStream), uint64(e))).Perm(l.ds.N)
	} else {
		idx = make([]int, l.ds.N)
		for i := range idx {
			idx[i] = i
		}
	}
	if l.cfg.World == 1 {
		return idx
	}
	idx, _ = Shard(idx, l.cfg.Rank, l.cfg.World) // rank and world were checked by NewLoader
	return idx
}

// produce builds batches from (epoch, step) on and sends them until stopped.
func (l *Loader) produce(epoch, step int, ch chan<- *Batch, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	seed := l.cfg.Seed
	permEpoch, perm := -1, []int(nil)
	pcg := rand.NewPCG(0, 0)
	rng := rand.New(pcg)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if permEpoch != epoch {
			perm, permEpoch = l.order(seed, epoch), epoch
		}
		b := l.build(seed, epoch, step, perm, pcg, rng)
		select {
		case ch <- b:
		case <-stop:
			b.Release()
			return
		}
		if step++; step == l.bpe {
			epoch, step = epoch+1, 0
		}
	}
}

// build prepares batch step of epoch.
func (l *Loader) build(seed uint64, epoch, step int, perm []int, pcg *rand.PCG, rng *rand.Rand) *Batch {
	lo := step * l.cfg.BatchSize
	hi := min(lo+l.cfg.BatchSize, l.n)
	b := &Batch{Indices: append([]int(nil), perm[lo:hi]...), Epoch: epoch, Step: step}
	sz := l.oh * l.ow * l.oc
	b.X = tensor.Get(hi-lo, l.oh, l.ow, l.oc)
	x := b.X.Data()
	es := mix64(seed^sampleStream) ^ mix64(uint64(epoch))
	for j, i := range b.Indices {
		// Seeded by the position in the whole (padded) epoch, lo+j without sharding,
		// so that no two ranks draw alike.
		pcg.Seed(es, uint64((lo+j)*l.cfg.World+l.cfg.Rank))
		l.cfg.Transform.apply(x[j*sz:(j+1)*sz], l.ds.At(i), l.ds.H, l.ds.W, l.ds.C, rng, l.lut)
	}
	if l.ds.Labels != nil {
		b.Labels = make([]int, len(b.Indices))
		for j, i := range b.Indices {
			b.Labels[j] = l.ds.Labels[i]
		}
	}
	return b
}
