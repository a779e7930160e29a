package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fileServer serves files from a map and records the paths requested.
type fileServer struct {
	mu    sync.Mutex
	files map[string][]byte
	paths []string
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.paths = append(s.paths, r.URL.Path)
	b, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

// dirEntries lists dir, so tests can check that no temporary file is left.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestDownloadSuccessAndSkip(t *testing.T) {
	a, b := []byte("first file"), []byte("second file, a bit longer")
	srv := &fileServer{files: map[string][]byte{"/mirror/a.gz": a, "/mirror/b.gz": b}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "new")
	files := []remoteFile{{"a.gz", md5hex(a)}, {"b.gz", md5hex(b)}}
	// The first mirror has nothing: the second one serves both files.
	mirrors := []string{ts.URL + "/empty", ts.URL + "/mirror/"}
	if err := downloadFiles(context.Background(), files, mirrors, dir, DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		want []byte
	}{{"a.gz", a}, {"b.gz", b}} {
		got, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil || string(got) != string(f.want) {
			t.Fatalf("%s: %q, %v", f.name, got, err)
		}
		if st, _ := os.Stat(filepath.Join(dir, f.name)); st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v", f.name, st.Mode())
		}
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"a.gz", "b.gz"}) {
		t.Fatalf("directory holds %v", got)
	}
	// Present with the right checksum: nothing is requested again.
	n := len(srv.paths)
	var logged []string
	opts := DownloadOptions{Logf: func(f string, args ...any) { logged = append(logged, f) }}
	if err := downloadFiles(context.Background(), files, mirrors, dir, opts); err != nil {
		t.Fatal(err)
	}
	if len(srv.paths) != n || len(logged) != 2 {
		t.Fatalf("second run made %d requests, logged %d lines", len(srv.paths)-n, len(logged))
	}
}

func TestDownloadChecksumMismatch(t *testing.T) {
	srv := &fileServer{files: map[string][]byte{"/x.gz": []byte("tampered")}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	want := md5hex([]byte("original"))
	err := downloadFiles(context.Background(), []remoteFile{{"x.gz", want}}, []string{ts.URL}, dir, DownloadOptions{})
	if err == nil {
		t.Fatal("mismatch accepted")
	}
	for _, s := range []string{"checksum mismatch", want, md5hex([]byte("tampered")), ts.URL + "/x.gz"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Fatalf("files left behind: %v", got)
	}
}

func TestDownloadHTTPError(t *testing.T) {
	ts := httptest.NewServer(&fileServer{files: map[string][]byte{}})
	defer ts.Close()
	dir := t.TempDir()
	err := Download(context.Background(), "mnist", dir, DownloadOptions{BaseURL: ts.URL})
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Fatalf("404: %v", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Fatalf("files left behind: %v", got)
	}
	// A cancelled context stops the download.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Download(ctx, "cifar10", dir, DownloadOptions{BaseURL: ts.URL}); err == nil {
		t.Fatal("cancelled download succeeded")
	}
	if err := Download(context.Background(), "folder", dir, DownloadOptions{}); err == nil {
		t.Fatal("folder download accepted")
	}
}

func TestDownloadRequestsOfficialNames(t *testing.T) {
	srv := &fileServer{files: map[string][]byte{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, c := range []struct {
		name string
		opts DownloadOptions
		want string
	}{
		{"mnist", DownloadOptions{}, "/train-images-idx3-ubyte.gz"},
		{"fashion_mnist", DownloadOptions{}, "/train-images-idx3-ubyte.gz"},
		{"cifar10", DownloadOptions{}, "/cifar-10-binary.tar.gz"},
		{"cifar10", DownloadOptions{CIFARPython: true}, "/cifar-10-python.tar.gz"},
	} {
		srv.paths = nil
		c.opts.BaseURL = ts.URL
		Download(context.Background(), c.name, t.TempDir(), c.opts)
		if len(srv.paths) != 1 || srv.paths[0] != c.want {
			t.Errorf("%s: requested %v, want [%s]", c.name, srv.paths, c.want)
		}
	}
}
