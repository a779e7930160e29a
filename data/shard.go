package data

import "fmt"

// Shard returns rank's part of one epoch's order for a job of world processes,
// exactly as PyTorch's DistributedSampler (drop_last=False) splits the order it draws:
//
//   - every rank gets ceil(N/world) indices, where N = len(indices);
//   - the order is padded to world·ceil(N/world) by repeating it from its start
//     (indices += indices[:padding], cycling through the whole order again when the
//     padding is longer than N);
//   - rank r takes the padded order's positions r, r+world, r+2·world, …
//
// DistributedSampler with shuffle=True draws its order with torch.randperm seeded by
// seed+epoch, which Go cannot reproduce; the Loader shards its own seeded order, the
// same on every rank. With world 1 the result is a copy of indices.
func Shard(indices []int, rank, world int) ([]int, error) {
	if world < 1 {
		return nil, fmt.Errorf("data: shard world size %d is not positive", world)
	}
	if rank < 0 || rank >= world {
		return nil, fmt.Errorf("data: shard rank %d out of range for world size %d", rank, world)
	}
	n := len(indices)
	per := (n + world - 1) / world
	out := make([]int, per)
	for k := range out {
		// Position rank + k·world of the padded order; positions past N wrap around.
		out[k] = indices[(rank+k*world)%n]
	}
	return out, nil
}
