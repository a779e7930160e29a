package report

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	j, err := NewJSONL(filepath.Join(dir, "m.jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	ew, err := NewEventWriter(filepath.Join(dir, "tb"))
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				step := int64(w*each + i)
				if err := j.Write(map[string]float64{"step": float64(step), "w": float64(w)}); err != nil {
					t.Error(err)
				}
				if err := ew.Scalar("train/loss", step, float32(i)); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					ew.Flush()
				}
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadJSONL(j.Path())
	if err != nil || len(recs) != workers*each {
		t.Fatalf("%d records, err %v", len(recs), err)
	}
	raw, err := os.ReadFile(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, r := range readRecords(t, raw)[1:] {
		seen[decodeEvent(t, r).step] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct steps in event file, want %d", len(seen), workers*each)
	}
}
