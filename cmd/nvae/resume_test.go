package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeIsExplicitAboutConfiguration: on resume, a flag that disagrees with the
// checkpoint's configuration (or an explicit --preset that does) is an error listing
// each flag with its stored and given values; the flags that may change (length,
// intervals, outputs) are accepted, and --steps lengthens the run.
func TestResumeIsExplicitAboutConfiguration(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	base := []string{"train", "--preset", "tiny_mnist", "--out", dir, "--steps", "1", "--eval_images", "4", "--num_iw_samples", "1"}
	var out, errb bytes.Buffer
	if code := run(base, &out, &errb); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errb.String())
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--num_channels_enc", "64", "--batch_size", "3"},
			[]string{"--num_channels_enc (checkpoint has 16, given 64)", "--batch_size (checkpoint has 8, given 3)"}},
		{[]string{"--preset", "demo"}, []string{"--preset demo gives"}},
		{[]string{"--warmup_steps", "7"}, []string{"--warmup_steps (checkpoint has 0, given 7)"}},
		{[]string{"--use_se=false"}, []string{"--use_se (checkpoint has true, given false)"}},
		{[]string{"--epochs", "3"}, []string{"step schedules", "give --steps"}},
	} {
		args := append(append([]string{}, base...), c.args...)
		out.Reset()
		errb.Reset()
		code := run(args, &out, &errb)
		msg := strings.TrimSpace(errb.String())
		if code != 1 || strings.Contains(msg, "\n") {
			t.Errorf("nvae %v: exit %d, stderr %q; want a one-line error", args, code, msg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("nvae %v: error %q lacks %q", args, msg, w)
			}
		}
	}
	// flags that may change on resume; --steps 2 lengthens the finished run by one step
	args := append(append([]string{}, base...), "--steps", "2", "--max_minutes", "5", "--log_every", "1", "--eval_images", "8", "--checkpoint_minutes", "3")
	out.Reset()
	errb.Reset()
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("nvae %v: exit %d: %s", args, code, errb.String())
	}
	if !strings.Contains(out.String(), "at step 1") || !strings.Contains(out.String(), "done: 2 steps") {
		t.Errorf("resume with --steps 2 did not continue to step 2: %q", out.String())
	}
	// the help names the flags that may change
	errb.Reset()
	run([]string{"train", "-h"}, &out, &errb)
	if !strings.Contains(errb.String(), "except --epochs, --steps, --max_minutes") {
		t.Errorf("nvae train -h does not list the flags that may change on resume")
	}
}
