package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvae-go/nvae/eval"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/report"
)

// tinyModel is an untrained tiny_mnist model (32×32 grey, 3 latent groups).
func tinyModel(t testing.TB) *model.Model {
	t.Helper()
	cfg, err := model.Preset("tiny_mnist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTest starts a server with a tiny model behind httptest.
func newTest(t testing.TB, opts Options, hook func(*Server)) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := New(tinyModel(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(s)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

// pngBytes encodes a w×h colour gradient.
func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(255 * x / max(w-1, 1)), uint8(255 * y / max(h-1, 1)), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// noisePNG encodes w×h random grey pixels (incompressible).
func noisePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNGHeader is the start of a PNG that declares w×h pixels (signature and IHDR
// only: enough for image.DecodeConfig).
func hugePNGHeader(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func multipartBody(t testing.TB, parts map[string][]byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, name := range []string{"image", "a", "b", "c", "extra"} {
		data, ok := parts[name]
		if !ok {
			continue
		}
		fw, err := mw.CreateFormFile(name, name+".png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

type answer struct {
	code   int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, url, ctype string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, b}
}

func pngSize(t testing.TB, b []byte) (int, int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("answer is not a PNG: %v (%q)", err, truncate(b))
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// TestRoutes: every route answers what it should, image routes with PNGs of the
// expected size, with both upload forms.
func TestRoutes(t *testing.T) {
	_, ts := newTest(t, Options{Workers: 2}, nil)
	img := pngBytes(t, 50, 40)

	a := do(t, "GET", ts.URL+"/", "", nil)
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.body, []byte("NVAE explorer")) {
		t.Fatalf("GET /: %d %s", a.code, a.header.Get("Content-Type"))
	}
	if a := do(t, "GET", ts.URL+"/healthz", "", nil); a.code != 200 || !bytes.Contains(a.body, []byte(`"ok"`)) {
		t.Fatalf("healthz: %d %s", a.code, a.body)
	}
	a = do(t, "GET", ts.URL+"/api/info", "", nil)
	var info Info
	if err := json.Unmarshal(a.body, &info); err != nil || a.code != 200 {
		t.Fatalf("info: %d %v", a.code, err)
	}
	if info.Groups != 3 || info.ImageSize != 32 || info.Channels != 1 || info.Decoder != "bernoulli" || info.Config.Dataset != "mnist" ||
		len(info.LatentShapes) != 3 || info.Workers != 2 || info.InputSize != 28 || info.Params == 0 {
		t.Errorf("info: %+v", info)
	}

	for _, c := range []struct {
		name, method, path, ctype string
		body                      []byte
		w, h                      int
	}{
		{"sample 16", "GET", "/api/sample?n=16&temp=0.7&seed=3", "", nil, 128, 128},
		{"sample row", "GET", "/api/sample?n=3&nrow=3&seed=3&pixels=mean", "", nil, 96, 32},
		{"reconstruct raw", "POST", "/api/reconstruct?seed=1", "image/png", img, 64, 32},
		{"traverse raw", "POST", "/api/traverse?keep=2&n=4&temp=0.5&seed=2", "image/png", img, 128, 32},
		{"traverse keep 0", "POST", "/api/traverse?keep=0&n=2", "image/png", img, 64, 32},
	} {
		a := do(t, c.method, ts.URL+c.path, c.ctype, c.body)
		if a.code != 200 || a.header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s: %d %s", c.name, a.code, truncate(a.body))
		}
		if w, h := pngSize(t, a.body); w != c.w || h != c.h {
			t.Errorf("%s: %d×%d, want %d×%d", c.name, w, h, c.w, c.h)
		}
	}

	ct, body := multipartBody(t, map[string][]byte{"image": img})
	mp := do(t, "POST", ts.URL+"/api/reconstruct?seed=1", ct, body)
	raw := do(t, "POST", ts.URL+"/api/reconstruct?seed=1", "image/png", img)
	if mp.code != 200 || !bytes.Equal(mp.body, raw.body) {
		t.Errorf("multipart and raw uploads of the same image differ (%d)", mp.code)
	}
	var jb bytes.Buffer
	im, _ := png.Decode(bytes.NewReader(img))
	if err := jpegEncode(&jb, im); err != nil {
		t.Fatal(err)
	}
	if a := do(t, "POST", ts.URL+"/api/reconstruct", "image/jpeg", jb.Bytes()); a.code != 200 {
		t.Errorf("JPEG upload: %d %s", a.code, a.body)
	}

	ct, body = multipartBody(t, map[string][]byte{"a": img, "b": pngBytes(t, 20, 30)})
	a = do(t, "POST", ts.URL+"/api/interpolate?steps=5&method=slerp&seed=1", ct, body)
	if a.code != 200 {
		t.Fatalf("interpolate: %d %s", a.code, a.body)
	}
	if w, h := pngSize(t, a.body); w != 160 || h != 32 {
		t.Errorf("interpolate: %d×%d", w, h)
	}

	if a := do(t, "GET", ts.URL+"/api/nothing", "", nil); a.code != 404 {
		t.Errorf("unknown API route: %d", a.code)
	}
	if a := do(t, "POST", ts.URL+"/api/sample", "", nil); a.code != 405 {
		t.Errorf("POST /api/sample: %d", a.code)
	}
	if a := do(t, "GET", ts.URL+"/api/reconstruct", "", nil); a.code != 405 {
		t.Errorf("GET /api/reconstruct: %d", a.code)
	}
	if a := do(t, "GET", ts.URL+"/nothing", "", nil); a.code != 404 {
		t.Errorf("GET /nothing: %d", a.code)
	}
}

// TestSampleDeterministic: the same seed gives the same PNG bytes (from either
// worker), the bytes `nvae sample --seed` computes; another seed gives others.
func TestSampleDeterministic(t *testing.T) {
	s, ts := newTest(t, Options{Workers: 2}, nil)
	_ = s
	url := ts.URL + "/api/sample?n=4&temp=0.7&seed=3"
	var bodies [][]byte
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := do(t, "GET", url, "", nil)
			mu.Lock()
			bodies = append(bodies, a.body)
			mu.Unlock()
			if a.header.Get("X-Nvae-Seed") != "3" {
				t.Errorf("seed header %q", a.header.Get("X-Nvae-Seed"))
			}
		}()
	}
	wg.Wait()
	for i := 1; i < len(bodies); i++ {
		if !bytes.Equal(bodies[0], bodies[i]) {
			t.Fatal("the same seed gave different PNG bytes")
		}
	}
	// what the CLI computes for --n 4 --temp 0.7 --seed 3
	m := tinyModel(t)
	noise := model.NewSeededNoise(3)
	x, err := eval.Sample(m, 4, 0.7, eval.PixelDefault, noise, noise.Rand())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := report.Grid(x, 0)
	var want bytes.Buffer
	png.Encode(&want, g)
	if !bytes.Equal(bodies[0], want.Bytes()) {
		t.Error("API sample differs from the CLI's for the same seed")
	}
	if other := do(t, "GET", ts.URL+"/api/sample?n=4&temp=0.7&seed=4", "", nil); bytes.Equal(other.body, bodies[0]) {
		t.Error("seeds 3 and 4 gave the same image")
	}
}

// TestBadInputs: every violation is a 400 with a JSON error naming the field.
func TestBadInputs(t *testing.T) {
	_, ts := newTest(t, Options{MaxUploadBytes: 4000, MaxSide: 1000, MaxN: 32, MaxSteps: 10, MaxTemp: 2}, nil)
	img := pngBytes(t, 20, 20)
	truncated := img[:len(img)/2]
	big := noisePNG(t, 100, 100) // > 4000 bytes
	if len(big) <= 4000 {
		t.Fatalf("test image only %d bytes", len(big))
	}
	mpUnknown, bodyUnknown := multipartBody(t, map[string][]byte{"image": img, "extra": img})
	mpOnlyA, bodyOnlyA := multipartBody(t, map[string][]byte{"a": img})
	mpAB, bodyAB := multipartBody(t, map[string][]byte{"a": img, "b": img})
	mpTrunc, bodyTrunc := multipartBody(t, map[string][]byte{"a": img, "b": truncated})
	for _, c := range []struct {
		name, method, path, ctype string
		body                      []byte
		field                     string
	}{
		{"empty body", "POST", "/api/reconstruct", "image/png", nil, "image"},
		{"not an image", "POST", "/api/reconstruct", "image/png", []byte("hello, world"), "image"},
		{"truncated PNG", "POST", "/api/reconstruct", "image/png", truncated, "image"},
		{"10000x10000 header", "POST", "/api/reconstruct", "image/png", hugePNGHeader(10000, 10000), "image"},
		{"too many bytes", "POST", "/api/traverse", "image/png", big, "image"},
		{"no content type", "POST", "/api/reconstruct", "", img, "Content-Type"},
		{"text content type", "POST", "/api/reconstruct", "text/plain", img, "Content-Type"},
		{"unknown form field", "POST", "/api/reconstruct", mpUnknown, bodyUnknown, "extra"},
		{"n=0", "GET", "/api/sample?n=0", "", nil, "n"},
		{"n=10^9", "GET", "/api/sample?n=1000000000", "", nil, "n"},
		{"n over limit", "GET", "/api/sample?n=33", "", nil, "n"},
		{"n not a number", "GET", "/api/sample?n=many", "", nil, "n"},
		{"NaN temperature", "GET", "/api/sample?temp=NaN", "", nil, "temp"},
		{"zero temperature", "GET", "/api/sample?temp=0", "", nil, "temp"},
		{"negative temperature", "GET", "/api/sample?temp=-1", "", nil, "temp"},
		{"Inf temperature", "GET", "/api/sample?temp=Inf", "", nil, "temp"},
		{"temperature over limit", "GET", "/api/sample?temp=2.5", "", nil, "temp"},
		{"unknown query field", "GET", "/api/sample?n=4&colour=red", "", nil, "colour"},
		{"repeated field", "GET", "/api/sample?n=4&n=5", "", nil, "n"},
		{"bad seed", "GET", "/api/sample?seed=-1", "", nil, "seed"},
		{"bad pixels", "GET", "/api/sample?pixels=fancy", "", nil, "pixels"},
		{"unknown info field", "GET", "/api/info?x=1", "", nil, "x"},
		{"interpolate raw body", "POST", "/api/interpolate", "image/png", img, "a"},
		{"interpolate missing b", "POST", "/api/interpolate", mpOnlyA, bodyOnlyA, "b"},
		{"interpolate truncated b", "POST", "/api/interpolate", mpTrunc, bodyTrunc, "b"},
		{"steps=1", "POST", "/api/interpolate?steps=1", mpAB, bodyAB, "steps"},
		{"steps over limit", "POST", "/api/interpolate?steps=11", mpAB, bodyAB, "steps"},
		{"bad method", "POST", "/api/interpolate?method=cubic", mpAB, bodyAB, "method"},
		{"keep over groups", "POST", "/api/traverse?keep=4", "image/png", img, "keep"},
		{"keep negative", "POST", "/api/traverse?keep=-1", "image/png", img, "keep"},
		{"traverse n=0", "POST", "/api/traverse?n=0", "image/png", img, "n"},
		{"traverse NaN temp", "POST", "/api/traverse?temp=nan", "image/png", img, "temp"},
	} {
		a := do(t, c.method, ts.URL+c.path, c.ctype, c.body)
		var e struct{ Error, Field string }
		if err := json.Unmarshal(a.body, &e); err != nil || a.code != 400 || e.Field != c.field || e.Error == "" {
			t.Errorf("%s: %d %s (want 400 naming %q)", c.name, a.code, truncate(a.body), c.field)
		}
	}
}

// TestBusyAndDeadline: a full queue answers 503 with Retry-After at once, a request
// past its deadline 503 too, and the queued requests still finish.
func TestBusyAndDeadline(t *testing.T) {
	entered, release := make(chan struct{}, 8), make(chan struct{})
	s, ts := newTest(t, Options{Workers: 1, QueueSize: 1, Timeout: 20 * time.Second}, func(s *Server) {
		s.beforeJob = func() { entered <- struct{}{}; <-release }
	})
	url := ts.URL + "/api/sample?n=1&seed=1"
	results := make(chan int, 2)
	go func() { results <- do(t, "GET", url, "", nil).code }()
	<-entered // the worker holds the first request
	go func() { results <- do(t, "GET", url, "", nil).code }()
	waitFor(t, func() bool { return len(s.jobs) == 1 }) // the second waits in the queue
	a := do(t, "GET", url, "", nil)
	if a.code != 503 || a.header.Get("Retry-After") == "" || !bytes.Contains(a.body, []byte("busy")) {
		t.Fatalf("full queue: %d %q %s", a.code, a.header.Get("Retry-After"), a.body)
	}
	close(release)
	for range 2 {
		if c := <-results; c != 200 {
			t.Errorf("queued request: %d", c)
		}
	}

	// deadline
	entered2, release2 := make(chan struct{}, 8), make(chan struct{})
	_, ts2 := newTest(t, Options{Workers: 1, QueueSize: 2, Timeout: 300 * time.Millisecond}, func(s *Server) {
		s.beforeJob = func() { entered2 <- struct{}{}; <-release2 }
	})
	done := make(chan answer, 1)
	go func() { done <- do(t, "GET", ts2.URL+"/api/sample?n=1", "", nil) }()
	<-entered2
	select {
	case a := <-done:
		if a.code != 503 || a.header.Get("Retry-After") == "" || !bytes.Contains(a.body, []byte("deadline")) {
			t.Errorf("past the deadline: %d %s", a.code, a.body)
		}
	case <-time.After(15 * time.Second):
		t.Error("a request past its deadline got no answer")
	}
	close(release2)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 10 s")
}

// TestToken: with a token every /api/ route and /metrics need it (401 otherwise); the
// page and /healthz do not.
func TestToken(t *testing.T) {
	_, ts := newTest(t, Options{Token: "s3cret-token"}, nil)
	img := pngBytes(t, 8, 8)
	for _, c := range []struct {
		method, path, ctype string
		body                []byte
	}{
		{"GET", "/api/info", "", nil}, {"GET", "/api/sample?n=1", "", nil}, {"GET", "/metrics", "", nil},
		{"POST", "/api/reconstruct", "image/png", img}, {"POST", "/api/traverse", "image/png", img},
		{"POST", "/api/interpolate", "image/png", img},
	} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token", "s3cret-token"} {
			var a answer
			if auth == "" {
				a = do(t, c.method, ts.URL+c.path, c.ctype, c.body)
			} else {
				a = do(t, c.method, ts.URL+c.path, c.ctype, c.body, "Authorization", auth)
			}
			if a.code != 401 || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %q: %d", c.method, c.path, auth, a.code)
			}
		}
	}
	if a := do(t, "GET", ts.URL+"/api/sample?n=1", "", nil, "Authorization", "Bearer s3cret-token"); a.code != 200 {
		t.Errorf("right token: %d %s", a.code, a.body)
	}
	if a := do(t, "GET", ts.URL+"/metrics", "", nil, "Authorization", "bearer s3cret-token"); a.code != 200 {
		t.Errorf("right token on /metrics: %d", a.code)
	}
	for _, p := range []string{"/", "/healthz"} {
		if a := do(t, "GET", ts.URL+p, "", nil); a.code != 200 {
			t.Errorf("%s without token: %d", p, a.code)
		}
	}
}

func TestCheckBind(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		insecure    bool
		ok          bool
	}{
		{"127.0.0.1:8080", "", false, true},
		{"127.0.0.2:8080", "", false, true},
		{"[::1]:8080", "", false, true},
		{"localhost:8080", "", false, true},
		{"0.0.0.0:8080", "", false, false},
		{":8080", "", false, false},
		{"[::]:8080", "", false, false},
		{"192.168.1.5:8080", "", false, false},
		{"0.0.0.0:8080", "tok", false, true},
		{":8080", "", true, true},
		{"127.0.0.1", "", false, false}, // no port
	} {
		err := CheckBind(c.addr, c.token, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("CheckBind(%q, %q, %v) = %v, want ok=%v", c.addr, c.token, c.insecure, err, c.ok)
		}
	}
}

// TestMetrics: the Prometheus text has the request counts by route and status, the
// latency histograms, the queue depth and the images generated.
func TestMetrics(t *testing.T) {
	_, ts := newTest(t, Options{}, nil)
	do(t, "GET", ts.URL+"/api/sample?n=5&seed=1", "", nil)
	do(t, "GET", ts.URL+"/api/sample?n=0", "", nil)
	a := do(t, "GET", ts.URL+"/metrics", "", nil)
	if a.code != 200 {
		t.Fatalf("metrics: %d", a.code)
	}
	for _, want := range []string{
		`nvae_http_requests_total{code="200",route="sample"} 1`,
		`nvae_http_requests_total{code="400",route="sample"} 1`,
		`nvae_images_generated_total{route="sample"} 5`,
		`nvae_http_request_duration_seconds_bucket{route="sample",le="+Inf"} 2`,
		`nvae_inference_duration_seconds_count{route="sample"} 1`,
		"nvae_queue_depth 0",
		"nvae_queue_capacity 8",
		"process_resident_memory_bytes",
	} {
		if !bytes.Contains(a.body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestGracefulShutdown: on cancellation the listener closes at once, the request in
// flight still gets its answer, and Serve returns.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	s, err := New(tinyModel(t), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s.beforeJob = func() { entered <- struct{}{}; <-release }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, s) }()
	url := fmt.Sprintf("http://%s", ln.Addr())
	inflight := make(chan answer, 1)
	go func() { inflight <- do(t, "GET", url+"/api/sample?n=2&seed=1", "", nil) }()
	<-entered
	cancel()
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if a := <-inflight; a.code != 200 {
		t.Errorf("in-flight request: %d %s", a.code, a.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := s.submit(context.Background(), "sample", nil); err != errClosing {
		t.Errorf("submit after Close: %v", err)
	}
}
