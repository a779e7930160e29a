package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParityCommand(t *testing.T) {
	var out, errb bytes.Buffer
	// the committed copy of fixture F2 (the smaller one)
	code := run([]string{"parity", "../../model/testdata/F2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"quantity", "grads kl_coeff=0.5", "sample logits", "checks pass"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"parity"}, &out, &errb); code != 2 {
		t.Errorf("missing DIR: exit %d, want 2", code)
	}
	if code := run([]string{"parity", t.TempDir()}, &out, &errb); code != 1 {
		t.Errorf("empty DIR: exit %d, want 1", code)
	}
}
