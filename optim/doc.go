// Package optim holds the training mathematics of NVAE that needs no automatic
// differentiation: the Adamax optimizer exactly as torch.optim.Adamax computes it
// (docs/model.md#adamax), the learning-rate schedule
// (docs/model.md#learning-rate-schedule), the KL warm-up coefficient β
// (docs/model.md#kl-warm-up), the regularization coefficient λ
// (docs/model.md#regularisation-coefficient), the latent groups per scale
// (docs/model.md#latent-groups), the KL-balancing prior weights α
// (docs/model.md#kl-balancing) and the derived iteration counts
// (docs/model.md#iterations-per-epoch).
//
// Everything here works on plain float32 slices and float64 scalars so that the
// model's parameters can be handed in without copying.
package optim
