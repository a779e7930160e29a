// Package optim holds the training mathematics of NVAE that needs no automatic
// differentiation: the Adamax optimizer exactly as torch.optim.Adamax computes it
// (spec §7.1), the learning-rate schedule (§7.2), the KL warm-up coefficient β (§5.2),
// the regularization coefficient λ (§5.7), the latent groups per scale (§1.1), the
// KL-balancing prior weights α (§5.3) and the derived iteration counts (§7.8).
//
// Everything here works on plain float32 slices and float64 scalars so that the
// model's parameters can be handed in without copying.
package optim
