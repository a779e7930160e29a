package parity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixtures replays the committed copies of the official-code fixtures F1 (Bernoulli,
// two scales, no flows) and F2 (logistic mixture, flows, 16×16) and requires every recorded
// quantity within the fixtures' tolerances. Setting NVAE_FIXTURES to the full fixtures folder
// also compares the per-module activations (train_activations, not committed).
func TestFixtures(t *testing.T) {
	for _, name := range []string{"F1", "F2"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", name)
			if root := os.Getenv("NVAE_FIXTURES"); root != "" {
				dir = filepath.Join(root, name)
			}
			rep, err := Run(dir)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.Print(&b)
			t.Log("\n" + b.String())
			need := []string{"state_dict keys/order", "logits", "log_px", "recon_loss", "log_q", "log_p", "kl_all.000",
				"kl_diag.000", "balanced_kl", "kl_coeffs", "balanced_kl_klc1", "balanced_kl_step0", "loss", "loss_klc1",
				"loss_step0", "norm_loss", "bn_loss", "grads kl_coeff=0.5", "grads kl_coeff=1",
				"buffers after train forward", "eval logits", "eval log_iw", "sample logits"}
			have := map[string]bool{}
			for _, c := range rep.Checks {
				have[c.Name] = true
			}
			for _, n := range need {
				if !have[n] {
					t.Errorf("quantity %q was not compared", n)
				}
			}
			for _, c := range rep.Failed() {
				t.Errorf("%s: max abs %.3e > tol %.3e (max rel %.3e) %s", c.Name, c.MaxAbs, c.Tol, c.MaxRel, c.Note)
			}
		})
	}
}
