// Command mpitest exercises package comm under a real launcher. The tests of package
// comm build it and run it with mpirun; it is not part of the nvae tool.
//
//	mpirun -np 2 mpitest -mode check      collectives, exact results (exit 0 = pass)
//	mpirun -np 2 mpitest -mode fail       rank 1 fails while rank 0 waits in a barrier
//	mpirun -np 2 mpitest -mode die        rank 1 exits (status 7) while rank 0 waits
//	mpirun -np 2 mpitest -mode bench      all-reduce bandwidth, 1 MB to 128 MB
//	mpitest -mode open                    just open the communicator from the environment
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/nvae-go/nvae/comm"
)

func main() {
	mode := flag.String("mode", "check", "check, fail, die, bench or open")
	maxCount := flag.Int("maxcount", 0, "elements per MPI call (0: the MPI limit); small values exercise the chunking")
	big := flag.Int("big", 3<<20, "length of the large float32 buffer of -mode check")
	maxMB := flag.Int("max_mb", 128, "largest buffer of -mode bench, in MB")
	iters := flag.Int("iters", 0, "all-reduces per size in -mode bench (0: enough for about 256 MB)")
	flag.Parse()

	var c comm.Comm
	var err error
	if *maxCount > 0 {
		c, err = comm.NewMPI(comm.Options{Library: os.Getenv(comm.LibEnv), MaxCount: *maxCount})
	} else {
		c, err = comm.FromEnv()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch *mode {
	case "open":
		fmt.Printf("rank %d of %d backend %s\n", c.Rank(), c.Size(), c.Backend())
	case "check":
		if err := check(c, *big); err != nil {
			comm.Fatal(c, err)
		}
		fmt.Printf("rank %d of %d ok\n", c.Rank(), c.Size())
	case "fail":
		if c.Rank() == 1 {
			time.Sleep(100 * time.Millisecond) // let rank 0 enter the barrier
			comm.Fatal(c, errors.New("injected failure"))
		}
		err := c.Barrier() // never completes: rank 1 aborts the job
		comm.Fatal(c, fmt.Errorf("barrier returned (%v) although rank 1 failed", err))
	case "die":
		if c.Rank() == 1 {
			time.Sleep(100 * time.Millisecond)
			os.Exit(7) // dies without Abort or Finalize
		}
		err := c.Barrier()
		comm.Fatal(c, fmt.Errorf("barrier returned (%v) although rank 1 died", err))
	case "bench":
		if err := bench(c, *maxMB, *iters); err != nil {
			comm.Fatal(c, err)
		}
	default:
		comm.Fatal(c, fmt.Errorf("unknown -mode %q", *mode))
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

// check runs every collective on values whose sums are exact in floating point and
// compares the results with the expected ones.
func check(c comm.Comm, big int) error {
	r, w := c.Rank(), c.Size()
	if w < 2 {
		return fmt.Errorf("want at least 2 ranks, have %d", w)
	}
	// Sum over ranks q of (i + q*1000) = w*i + 1000*w(w-1)/2, exact for these sizes.
	tri := float64(1000 * w * (w - 1) / 2)
	f32 := make([]float32, 1000)
	for i := range f32 {
		f32[i] = float32(i + r*1000)
	}
	if err := c.AllReduceSumFloat32(f32); err != nil {
		return err
	}
	for i, v := range f32 {
		if want := float32(float64(w*i) + tri); v != want {
			return fmt.Errorf("all-reduce float32[%d] = %v, want %v", i, v, want)
		}
	}
	f64 := make([]float64, 777)
	for i := range f64 {
		f64[i] = float64(i)*0.5 + float64(r)*1e9
	}
	if err := c.AllReduceSumFloat64(f64); err != nil {
		return err
	}
	for i, v := range f64 {
		if want := float64(i)*0.5*float64(w) + 1e9*float64(w*(w-1)/2); v != want {
			return fmt.Errorf("all-reduce float64[%d] = %v, want %v", i, v, want)
		}
	}
	// A large buffer: values below 2^12 per rank keep the float32 sums exact.
	b := make([]float32, big)
	for i := range b {
		b[i] = float32((i+r)%4096) - 2048
	}
	if err := c.AllReduceSumFloat32(b); err != nil {
		return err
	}
	for i, v := range b {
		var want float32
		for q := 0; q < w; q++ {
			want += float32((i+q)%4096) - 2048
		}
		if v != want {
			return fmt.Errorf("all-reduce of %d float32: [%d] = %v, want %v", big, i, v, want)
		}
	}
	// Broadcasts from the last rank and from rank 0.
	root := w - 1
	g32 := make([]float32, 300)
	g64 := make([]float64, 300)
	by := make([]byte, 5000)
	for i := range g32 {
		g32[i], g64[i] = float32(-1), -1
	}
	if r == root {
		for i := range g32 {
			g32[i], g64[i] = float32(i)*1.5, math.Pi*float64(i)
		}
	}
	if err := c.BroadcastFloat32(g32, root); err != nil {
		return err
	}
	if err := c.BroadcastFloat64(g64, root); err != nil {
		return err
	}
	if r == 0 {
		for i := range by {
			by[i] = byte(i * 3)
		}
	}
	if err := c.BroadcastBytes(by, 0); err != nil {
		return err
	}
	for i := range by {
		if by[i] != byte(i*3) {
			return fmt.Errorf("byte broadcast from rank 0: [%d] = %d, want %d", i, by[i], byte(i*3))
		}
	}
	if r == root {
		for i := range by {
			by[i] = byte(i * 7)
		}
	}
	if err := c.BroadcastBytes(by, root); err != nil {
		return err
	}
	for i := range g32 {
		if g32[i] != float32(i)*1.5 || g64[i] != math.Pi*float64(i) {
			return fmt.Errorf("broadcast from rank %d: [%d] = %v, %v", root, i, g32[i], g64[i])
		}
	}
	for i := range by {
		if by[i] != byte(i*7) {
			return fmt.Errorf("byte broadcast from rank %d: [%d] = %d, want %d", root, i, by[i], byte(i*7))
		}
	}
	if err := c.BroadcastFloat32(g32, w); err == nil {
		return fmt.Errorf("broadcast from rank %d of %d did not fail", w, w)
	}
	for i := 0; i < 3; i++ {
		if err := c.Barrier(); err != nil {
			return err
		}
	}
	return nil
}

// bench measures the all-reduce bandwidth of float32 buffers from 1 MB to maxMB,
// printing on rank 0 the algorithm bandwidth (buffer bytes / time) and the bus
// bandwidth (2(W-1)/W times that, the bytes each rank sends and receives in a ring).
func bench(c comm.Comm, maxMB, iters int) error {
	if c.Rank() == 0 {
		fmt.Printf("all-reduce sum float32, %d ranks\n%10s %8s %12s %12s %12s\n", c.Size(), "bytes", "iters", "ms/call", "algo GB/s", "bus GB/s")
	}
	for mb := 1; mb <= maxMB; mb *= 2 {
		n := mb << 20 / 4
		buf := make([]float32, n)
		for i := range buf {
			buf[i] = 1
		}
		it := iters
		if it <= 0 {
			it = max(2, 256/mb)
		}
		if err := c.AllReduceSumFloat32(buf); err != nil { // warm-up
			return err
		}
		if err := c.Barrier(); err != nil {
			return err
		}
		t0 := time.Now()
		for i := 0; i < it; i++ {
			if err := c.AllReduceSumFloat32(buf); err != nil {
				return err
			}
		}
		d := time.Since(t0).Seconds() / float64(it)
		// Every element grows by a factor W per call; check the last call's result
		// on the first element (exact while W^(it+1) fits in float32's range).
		if c.Rank() == 0 {
			algo := float64(n*4) / d / 1e9
			bus := algo * 2 * float64(c.Size()-1) / float64(c.Size())
			fmt.Printf("%10d %8d %12.3f %12.2f %12.2f\n", n*4, it, d*1e3, algo, bus)
		}
	}
	return nil
}
