package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// DownloadOptions configures Download.
type DownloadOptions struct {
	// BaseURL, when set, replaces the official mirrors: file F is fetched from
	// BaseURL + "/" + F. Tests point it at a local server.
	BaseURL string
	// Client is the HTTP client; nil means http.DefaultClient.
	Client *http.Client
	// CIFARPython fetches cifar-10-python.tar.gz instead of cifar-10-binary.tar.gz.
	CIFARPython bool
	// Logf, when set, receives one line per file fetched or skipped.
	Logf func(format string, args ...any)
}

// remoteFile is one file to fetch and its published MD5.
type remoteFile struct {
	name string
	md5  string
}

// Official download locations and checksums (the MD5s torchvision and the dataset
// pages publish).
var (
	mnistMirrors = []string{"https://ossci-datasets.s3.amazonaws.com/mnist", "http://yann.lecun.com/exdb/mnist"}
	mnistFiles   = []remoteFile{
		{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
		{"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
		{"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
		{"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"},
	}
	fashionMirrors = []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"}
	fashionFiles   = []remoteFile{
		{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
		{"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"},
		{"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"},
		{"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"},
	}
	cifarMirrors = []string{"https://www.cs.toronto.edu/~kriz"}
	cifarBinary  = remoteFile{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"}
	cifarPython  = remoteFile{"cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"}
)

// Download fetches the files of a dataset (mnist, fashion_mnist or cifar10) into dir,
// where Open then finds them: the four gzip IDX files, or the CIFAR-10 archive (binary
// version unless opts.CIFARPython). Each file is checked against its published MD5 and
// written atomically (a temporary file in dir renamed into place), so a failed or
// interrupted download leaves nothing behind. Files already present with the right
// checksum are not fetched again. The official mirrors are tried in turn unless
// opts.BaseURL is set.
func Download(ctx context.Context, name, dir string, opts DownloadOptions) error {
	var files []remoteFile
	var mirrors []string
	switch canonicalName(name) {
	case "mnist":
		files, mirrors = mnistFiles, mnistMirrors
	case "fashion_mnist":
		files, mirrors = fashionFiles, fashionMirrors
	case "cifar10":
		files, mirrors = []remoteFile{cifarBinary}, cifarMirrors
		if opts.CIFARPython {
			files = []remoteFile{cifarPython}
		}
	default:
		return fmt.Errorf("data: dataset %q cannot be downloaded: expected mnist, fashion_mnist or cifar10", name)
	}
	if opts.BaseURL != "" {
		mirrors = []string{opts.BaseURL}
	}
	return downloadFiles(ctx, files, mirrors, dir, opts)
}

// downloadFiles fetches every file into dir from the first mirror that serves it with
// the right checksum.
func downloadFiles(ctx context.Context, files []remoteFile, mirrors []string, dir string, opts DownloadOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data: download: %w", err)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for _, f := range files {
		dst := filepath.Join(dir, f.name)
		if sum, err := fileMD5(dst); err == nil {
			if sum == f.md5 {
				logf("%s: present, checksum ok", dst)
				continue
			}
			logf("%s: present with md5 %s, expected %s: fetching again", dst, sum, f.md5)
		}
		var errs []error
		for _, m := range mirrors {
			url := strings.TrimSuffix(m, "/") + "/" + f.name
			err := fetchFile(ctx, opts.Client, url, dst, f.md5)
			if err == nil {
				logf("%s: fetched from %s", dst, url)
				errs = nil
				break
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		if errs != nil {
			return fmt.Errorf("data: download of %s failed: %w", f.name, errors.Join(errs...))
		}
	}
	return nil
}

// fileMD5 returns the hex MD5 of the file at path.
func fileMD5(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetchFile downloads url to dst through a temporary file in dst's directory, checking
// the MD5 before renaming it into place.
func fetchFile(ctx context.Context, client *http.Client, url, dst, wantMD5 string) (err error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP status %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		return fmt.Errorf("%s: after %d bytes: %w", url, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("%s: received %d bytes, expected %d", url, n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantMD5 {
		return fmt.Errorf("%s: checksum mismatch: expected md5 %s, got %s (%d bytes); file discarded", url, wantMD5, got, n)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}
