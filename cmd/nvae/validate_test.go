package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidation: out-of-range values are refused before any work with an error
// naming the flag and its valid range.
func TestValidation(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "f1.safetensors")
	var out, errb bytes.Buffer
	if code := run([]string{"import", fixtureCheckpoint, ck}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	s := []string{"sample", "--checkpoint", ck, "--out", filepath.Join(dir, "s.png")}
	tr := []string{"train", "--preset", "tiny_mnist", "--out", filepath.Join(dir, "run")}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	cases := []struct {
		args []string
		want string
	}{
		{with(tr, "--learning_rate", "-1"), "--learning_rate must be in (0, 1]"},
		{with(tr, "--learning_rate", "NaN"), "--learning_rate must be in (0, 1]"},
		{with(tr, "--learning_rate_min", "1"), "--learning_rate_min must be in [0, --learning_rate"},
		{with(tr, "--kl_anneal_portion", "2"), "--kl_anneal_portion must be in [0, 1]"},
		{with(tr, "--weight_decay", "-0.1"), "--weight_decay must be ≥ 0"},
		{with(tr, "--epochs", "0"), "--epochs must be at least 1"},
		{with(s, "--nrow", "-2"), "--nrow must be at least 1, or 0"},
		{with(s, "--temp", "1e30"), "--temp must be in (0, 4]"},
		{with(s, "--temp", "-0.5"), "--temp must be in (0, 4]"},
		{with(s, "--readjust_bn", "--readjust_iters", "0"), "--readjust_iters and --readjust_batch must be at least 1"},
		{with(s, "--readjust_bn", "--readjust_batch", "0"), "--readjust_iters and --readjust_batch must be at least 1"},
		{with(s, "--out", filepath.Join(dir, "x.gif")), ".png, .jpg or .jpeg"},
		{[]string{"recon", "--checkpoint", ck, "--out", filepath.Join(dir, "x.bmp")}, ".png, .jpg or .jpeg"},
		{[]string{"eval", "--checkpoint", ck, "--batch_size", "-1"}, "--batch_size must be at least 1"},
		{[]string{"eval", "--checkpoint", ck, "--max_images", "-1"}, "--max_images must be at least 1"},
		// checked before the (long) re-adjustment: 10^9 passes would never end
		{[]string{"sample", "--checkpoint", fixtureCheckpoint, "--readjust_bn", "--readjust_iters", "1000000000", "--save_bn", "--out", filepath.Join(dir, "s.png")},
			"must be a .safetensors file"},
	}
	for _, c := range cases {
		out.Reset()
		errb.Reset()
		code := run(c.args, &out, &errb)
		msg := strings.TrimSpace(errb.String())
		if code != 1 || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("nvae %v: exit %d, stderr %q; want one line with %q", c.args, code, msg, c.want)
		}
	}
	// .jpg writes JPEG
	jpg := filepath.Join(dir, "s.jpg")
	out.Reset()
	errb.Reset()
	if code := run([]string{"sample", "--checkpoint", ck, "--n", "2", "--out", jpg}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if b, err := os.ReadFile(jpg); err != nil || !bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) {
		t.Errorf("--out %s did not write JPEG (%v)", jpg, err)
	}
}

// TestBNTemperatureRecorded: --save_bn stores the temperature with the statistics,
// and sampling at another temperature without --readjust_bn warns (on stderr).
func TestBNTemperatureRecorded(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "f1.safetensors")
	png := filepath.Join(dir, "s.png")
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"import", fixtureCheckpoint, ck},
		{"sample", "--checkpoint", ck, "--n", "1", "--temp", "0.6", "--readjust_bn", "--readjust_iters", "1", "--readjust_batch", "2", "--save_bn", "--out", png},
	} {
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("nvae %v: %s", args, errb.String())
		}
	}
	for _, c := range []struct {
		temp string
		warn bool
	}{{"0.6", false}, {"1.0", true}} {
		out.Reset()
		errb.Reset()
		if code := run([]string{"sample", "--checkpoint", ck, "--n", "1", "--temp", c.temp, "--out", png}, &out, &errb); code != 0 {
			t.Fatal(errb.String())
		}
		got := strings.Contains(errb.String(), "re-adjusted at t=0.6, not at --temp 1")
		if got != c.warn {
			t.Errorf("--temp %s: stderr %q; want a warning: %v", c.temp, errb.String(), c.warn)
		}
		if strings.Contains(out.String(), "warning") {
			t.Errorf("--temp %s: warning on stdout", c.temp)
		}
	}
}
