package serve

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad: 200 requests from 32 concurrent clients on loopback against 2 workers and
// a queue of 4. Every request gets 200 or 503 (with Retry-After) before its deadline
// plus a margin, the heap stays bounded while it runs, and the server still answers
// afterwards.
func TestLoad(t *testing.T) {
	const (
		requests = 200
		clients  = 32
		deadline = 5 * time.Second
	)
	_, ts := newTest(t, Options{Workers: 2, QueueSize: 4, Timeout: deadline}, nil)
	client := &http.Client{Timeout: deadline + 5*time.Second} // a hang shows as a client error
	get := func(url string) (int, string, error) {
		res, err := client.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return 0, "", err
		}
		return res.StatusCode, res.Header.Get("Retry-After"), nil
	}
	// warm up (first passes allocate the pools)
	if code, _, err := get(ts.URL + "/api/sample?n=2&seed=1"); err != nil || code != 200 {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	var next atomic.Int64
	var ok, busy atomic.Int64
	errs := make(chan error, requests)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > requests {
					return
				}
				code, retry, err := get(fmt.Sprintf("%s/api/sample?n=2&temp=0.8&seed=%d", ts.URL, i))
				switch {
				case err != nil:
					errs <- fmt.Errorf("client %d request %d: %v", c, i, err)
				case code == 200:
					ok.Add(1)
				case code == 503 && retry != "":
					busy.Add(1)
				default:
					errs <- fmt.Errorf("client %d request %d: status %d (Retry-After %q)", c, i, code, retry)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	sampler.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load()+busy.Load() != requests {
		t.Errorf("%d answered 200 and %d 503 of %d", ok.Load(), busy.Load(), requests)
	}
	if ok.Load() == 0 {
		t.Error("no request succeeded")
	}
	const bound = 256 << 20
	if grow := int64(peak.Load()) - int64(before.HeapInuse); grow > bound {
		t.Errorf("heap in use grew by %d MiB under load (bound %d MiB)", grow>>20, bound>>20)
	}
	t.Logf("%d requests in %v: %d ok (%.1f/s), %d busy; heap in use %d MiB before, %d MiB at peak",
		requests, elapsed.Round(time.Millisecond), ok.Load(), float64(ok.Load())/elapsed.Seconds(), busy.Load(),
		before.HeapInuse>>20, peak.Load()>>20)

	// still answering
	if code, _, err := get(ts.URL + "/healthz"); err != nil || code != 200 {
		t.Errorf("healthz after the load: %d %v", code, err)
	}
	if code, _, err := get(ts.URL + "/api/sample?n=1&seed=1"); err != nil || code != 200 {
		t.Errorf("sample after the load: %d %v", code, err)
	}
}
