package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestRecomputeCellsAlias runs the trainer's step through nvae bench train with the
// deprecated --checkpoint_cells: it sets --recompute_cells, prints a one-line notice,
// and the usage message lists only the new name.
func TestRecomputeCellsAlias(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "train", "--preset", "tiny_mnist", "--batch_size", "2", "--steps", "1", "--warmup", "0",
		"--peak_seconds", "0", "--json", "--checkpoint_cells"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if got := strings.TrimSpace(errb.String()); !strings.Contains(got, "--checkpoint_cells is deprecated, use --recompute_cells") || strings.Contains(got, "\n") {
		t.Errorf("stderr %q, want one deprecation line", got)
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if res["recompute_cells"] != true {
		t.Errorf("recompute_cells = %v, want true", res["recompute_cells"])
	}
	if l, ok := res["loss"].(float64); !ok || math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
		t.Errorf("loss %v, want a positive finite number", res["loss"])
	}

	out.Reset()
	errb.Reset()
	run([]string{"bench", "train", "-h"}, &out, &errb)
	if u := errb.String(); !strings.Contains(u, "-recompute_cells") || strings.Contains(u, "-checkpoint_cells") {
		t.Errorf("usage lists %q", u)
	}
}
