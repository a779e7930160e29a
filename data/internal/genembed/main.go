// Command genembed writes the Fashion-MNIST subset that package data embeds: the first
// -train images of the training set and the first -test images of the test set, with
// their labels, as gzip-compressed IDX files. Run it through `go generate` in the data
// directory (see embedded.go). It does not import package data, so that it still
// builds when the embedded files are missing.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	src := flag.String("src", "/usr/share/datasets/fashion-mnist", "directory with the Fashion-MNIST .gz IDX files")
	out := flag.String("out", "embedded", "output directory")
	nTrain := flag.Int("train", 4000, "number of training images to keep")
	nTest := flag.Int("test", 1000, "number of test images to keep")
	flag.Parse()
	if err := run(*src, *out, *nTrain, *nTest); err != nil {
		fmt.Fprintln(os.Stderr, "genembed:", err)
		os.Exit(1)
	}
}

func run(src, out string, nTrain, nTest int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		for _, kind := range []string{"-images-idx3-ubyte.gz", "-labels-idx1-ubyte.gz"} {
			name := s.prefix + kind
			dims, payload, err := readIDX(filepath.Join(src, name))
			if err != nil {
				return err
			}
			if dims[0] < s.n {
				return fmt.Errorf("%s has %d items, fewer than %d", name, dims[0], s.n)
			}
			per := len(payload) / dims[0]
			dims[0] = s.n
			if err := writeIDXGz(filepath.Join(out, name), dims, payload[:s.n*per]); err != nil {
				return err
			}
		}
	}
	return nil
}

// readIDX reads a gzip-compressed unsigned-byte IDX file.
func readIDX(path string) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 8 {
		return nil, nil, fmt.Errorf("%s: not an unsigned-byte IDX file", path)
	}
	nd := int(b[3])
	if len(b) < 4+4*nd {
		return nil, nil, fmt.Errorf("%s: truncated header", path)
	}
	dims := make([]int, nd)
	n := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
		n *= dims[i]
	}
	payload := b[4+4*nd:]
	if len(payload) != n {
		return nil, nil, fmt.Errorf("%s: dimensions %v need %d bytes, found %d", path, dims, n, len(payload))
	}
	return dims, payload, nil
}

// writeIDXGz writes a gzip-compressed IDX file with no name or time in the gzip
// header, so that the output is reproducible.
func writeIDXGz(path string, dims []int, payload []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	hdr := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if _, err := zw.Write(append(hdr, payload...)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
