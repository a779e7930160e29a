package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestPrecisionFlag runs nvae bench train and bench sample with --precision: bf16 is
// reported, gives a finite loss different from fp32's (so it reached the model), and
// a bad value is refused naming the flag.
func TestPrecisionFlag(t *testing.T) {
	loss := func(prec string) float64 {
		var out, errb bytes.Buffer
		args := []string{"bench", "train", "--preset", "tiny_mnist", "--batch_size", "2", "--steps", "1", "--warmup", "0",
			"--peak_seconds", "0", "--json", "--precision", prec}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		if res["precision"] != prec {
			t.Errorf("precision = %v, want %s", res["precision"], prec)
		}
		l, ok := res["loss"].(float64)
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
			t.Fatalf("%s: loss %v, want a positive finite number", prec, res["loss"])
		}
		return l
	}
	l32, l16 := loss("fp32"), loss("bf16")
	if l32 == l16 {
		t.Errorf("bf16 loss %v equals the fp32 loss exactly: the precision did not reach the model", l16)
	}
	if math.Abs(l16-l32) > 0.01*l32 {
		t.Errorf("bf16 loss %v vs fp32 %v: more than 1%% apart", l16, l32)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"bench", "sample", "--preset", "tiny_mnist", "--n", "2", "--reps", "1", "--json", "--precision", "bf16"}, &out, &errb); code != 0 {
		t.Fatalf("bench sample --precision bf16: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"bench", "train", "--precision", "fp16"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "-precision") || !strings.Contains(errb.String(), "fp16") {
		t.Errorf("--precision fp16: exit %d, stderr %q; want a refusal naming the flag and the value", code, errb.String())
	}
}
