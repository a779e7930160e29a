package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/nvae-go/nvae/data"
	"github.com/nvae-go/nvae/model"
	"github.com/nvae-go/nvae/modelfile"
)

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	if p := os.Getenv("NVAE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser loads the page in headless Chromium from a test server with a tiny
// model, moves the temperature slider, uploads images to the reconstruction,
// interpolation and traversal views, and checks that every image is decoded with the
// expected size and that no console error or exception occurred. It skips only when
// no browser is installed and CI is unset; in CI a missing browser fails.
//
// NVAE_SCREENSHOT=FILE.png writes a screenshot of the page at the end;
// NVAE_CHECKPOINT=PATH serves that checkpoint instead of the untrained tiny model.
func TestBrowser(t *testing.T) {
	exe := findChromium()
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium binary found (install the chromium package; .ci/run does) and CI is set")
		}
		t.Skip("no Chromium binary found (install the chromium package, or set NVAE_CHROMIUM); skipping the browser test")
	}
	var m *model.Model
	if ck := os.Getenv("NVAE_CHECKPOINT"); ck != "" {
		var err error
		if m, _, err = modelfile.Load(ck); err != nil {
			t.Fatal(err)
		}
	} else {
		m = tinyModel(t)
	}
	s, err := New(m, Options{Workers: 1, Logger: quietLogger(), Meta: map[string]string{"checkpoint": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer func() { ts.Close(); s.Close() }()
	side := m.Cfg.ImageSize()

	dir := t.TempDir()
	upload := filepath.Join(dir, "upload.png")
	if err := os.WriteFile(upload, uploadImage(t, m, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	upload2 := filepath.Join(dir, "upload2.png")
	if err := os.WriteFile(upload2, uploadImage(t, m, 9), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(filepath.Join(dir, "profile")))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	defer cancelT()

	// Start the browser, then subscribe to console calls, exceptions and log entries
	// before the page loads.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ConsoleAPICalled) {
			if err != nil {
				return
			}
			if ev.Type == "error" || ev.Type == "assert" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				note("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			note(fmt.Sprintf("exception: %s", ev.ExceptionDetails.Text))
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			if ev.Entry != nil && ev.Entry.Level == cdplog.EntryLevelError {
				note("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	}()

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("samples"))); err != nil {
		t.Fatal(err)
	}
	// imgReady waits until the img is decoded after a load that set data-state, and
	// returns its natural size.
	imgReady := func(id, extra string) (int, int) {
		t.Helper()
		cond := fmt.Sprintf(`(() => { const i = document.getElementById(%q); return i.dataset.state === "ready" && i.complete && i.naturalWidth > 0 %s; })()`, id, extra)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("header").innerText + " | " + Array.from(document.querySelectorAll(".status")).map(e => e.textContent).join(" | ")`))
			t.Fatalf("waiting for #%s: %v (page: %s; problems so far: %v)", id, err, page, problems)
		}
		size, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](fmt.Sprintf(`(() => { const i = document.getElementById(%q); return [i.naturalWidth, i.naturalHeight, i.width, i.height]; })()`, id)))
		if err != nil {
			t.Fatal(err)
		}
		if size[2] < size[0] || size[3] < size[1] {
			t.Errorf("#%s is shown at %d×%d, smaller than its %d×%d pixels", id, size[2], size[3], size[0], size[1])
		}
		return size[0], size[1]
	}
	check := func(id string, w, h, wantW, wantH int) {
		t.Helper()
		if w != wantW || h != wantH {
			t.Errorf("#%s is %d×%d, want %d×%d", id, w, h, wantW, wantH)
		}
	}

	// the sample grid (16 images by default) and the model line
	w, h := imgReady("sampleimg", "")
	check("sampleimg", w, h, 4*side, 4*side)
	if txt, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("model"))); !strings.Contains(txt, "latent groups") {
		t.Errorf("model line: %q", txt)
	}

	// move the temperature slider with the keyboard: 0.70 → 0.75 → 0.80
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("temp")), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight)); err != nil {
		t.Fatal(err)
	}
	w, h = imgReady("sampleimg", `&& i.dataset.temp === "0.8"`)
	check("sampleimg", w, h, 4*side, 4*side)
	if txt, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("tempval"))); txt != "0.80" {
		t.Errorf("temperature label %q, want 0.80", txt)
	}

	// uploads
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("reconfile"), []string{upload})); err != nil {
		t.Fatal(err)
	}
	w, h = imgReady("reconimg", "")
	check("reconimg", w, h, 2*side, side)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("travfile"), []string{upload2})); err != nil {
		t.Fatal(err)
	}
	w, h = imgReady("travimg", "")
	check("travimg", w, h, 8*side, side)
	if err := chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("afile"), []string{upload}),
		chromedp.Click(chromedp.ID("bsample"))); err != nil {
		t.Fatal(err)
	}
	w, h = imgReady("interpimg", "")
	check("interpimg", w, h, 8*side, side)
	// the traversal slider: keep every group, then one
	for _, v := range []string{"k.max", "1"} {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const k = document.getElementById("keep"); k.value = `+v+`; document.getElementById("travimg").dataset.state = "loading"; k.dispatchEvent(new Event("input")); k.dispatchEvent(new Event("change")); })()`)); err != nil {
			t.Fatal(err)
		}
		w, h = imgReady("travimg", "")
		check("travimg", w, h, 8*side, side)
	}

	if path := os.Getenv("NVAE_SCREENSHOT"); path != "" {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(buf))
	}
	time.Sleep(100 * time.Millisecond) // let the last events arrive
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("page problem: %s", p)
	}
}

// uploadImage is an image the browser uploads: with NVAE_CHECKPOINT and a grey model,
// test image i of the embedded Fashion-MNIST subset (for the README's screenshot);
// otherwise a colour gradient (any model accepts any image).
func uploadImage(t *testing.T, m *model.Model, i int) []byte {
	t.Helper()
	if os.Getenv("NVAE_CHECKPOINT") == "" || m.Cfg.ImageChannels() != 1 {
		return pngBytes(t, 60+i, 45)
	}
	ds, err := data.Open("embedded", "", "test", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, ds.W, ds.H))
	copy(img.Pix, ds.At(i))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
