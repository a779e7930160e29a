package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxIDXBytes bounds the payload an IDX header may announce (16 GiB), so that a
// corrupt header fails with an error instead of an impossible allocation.
const maxIDXBytes = 1 << 34

// openMaybeGzip wraps r in a gzip reader when its first two bytes are the gzip magic
// (1f 8b). It reports whether it did.
func openMaybeGzip(r io.Reader, name string) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("file %s: %w", name, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, false, fmt.Errorf("file %s: corrupt gzip header: %w", name, err)
		}
		return zr, true, nil
	}
	return br, false, nil
}

// DecodeIDX reads one IDX file from r, either raw or gzip-compressed (detected by the
// gzip magic bytes). name is used in error messages. It returns the dimensions from the
// header and the payload; only the unsigned-byte element type (0x08) is supported. The
// stream must end exactly after the payload.
func DecodeIDX(r io.Reader, name string) (dims []int, payload []uint8, err error) {
	return decodeIDX(r, name, -1)
}

// decodeIDX is DecodeIDX; rawSize, when ≥ 0, is the total size of an uncompressed
// input, used to report truncation before allocating.
func decodeIDX(r io.Reader, name string, rawSize int64) ([]int, []uint8, error) {
	src, gz, err := openMaybeGzip(r, name)
	if err != nil {
		return nil, nil, err
	}
	if gz {
		rawSize = -1
	}
	var hdr [4]byte
	if n, err := io.ReadFull(src, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("file %s: too short for an IDX header: expected 4 bytes, found %d (%w)", name, n, err)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, nil, fmt.Errorf("file %s: not an IDX file: expected magic bytes 00 00, found %02x %02x", name, hdr[0], hdr[1])
	}
	if hdr[2] != 0x08 {
		return nil, nil, fmt.Errorf("file %s: IDX element type 0x%02x is not supported: expected 0x08 (unsigned byte)", name, hdr[2])
	}
	nd := int(hdr[3])
	if nd < 1 || nd > 4 {
		return nil, nil, fmt.Errorf("file %s: IDX header has %d dimensions: expected 1 to 4", name, nd)
	}
	db := make([]byte, 4*nd)
	if n, err := io.ReadFull(src, db); err != nil {
		return nil, nil, fmt.Errorf("file %s: truncated IDX header: expected %d dimension bytes, found %d", name, 4*nd, n)
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(db[4*i:]))
		dims[i] = int(d)
		if d != 0 && total > maxIDXBytes/d { // checked before multiplying: no overflow
			return nil, nil, fmt.Errorf("file %s: IDX dimensions %v announce more than %d bytes", name, dims[:i+1], int64(maxIDXBytes))
		}
		total *= d
		if total > maxIDXBytes {
			return nil, nil, fmt.Errorf("file %s: IDX dimensions %v announce more than %d bytes", name, dims[:i+1], int64(maxIDXBytes))
		}
	}
	if rawSize >= 0 {
		avail := rawSize - 4 - int64(4*nd)
		if avail < total {
			return nil, nil, fmt.Errorf("file %s: truncated: IDX dimensions %v announce %d data bytes, found only %d", name, dims, total, avail)
		}
		if avail > total {
			return nil, nil, fmt.Errorf("file %s: %d unexpected bytes after the %d data bytes announced by IDX dimensions %v", name, avail-total, total, dims)
		}
	}
	var payload []uint8
	if rawSize >= 0 {
		// The size is known and checked above: read into one buffer.
		payload = make([]uint8, total)
		if n, err := io.ReadFull(src, payload); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, nil, fmt.Errorf("file %s: truncated: IDX dimensions %v announce %d data bytes, found only %d", name, dims, total, n)
			}
			return nil, nil, fmt.Errorf("file %s: reading IDX data (after %d of %d bytes): %w", name, n, total, err)
		}
	} else {
		// A stream of unknown length (gzip, or a plain reader): the header's
		// size is not trusted for the allocation, which grows with the data
		// that really arrives.
		payload, err = io.ReadAll(io.LimitReader(src, total))
		if err != nil {
			return nil, nil, fmt.Errorf("file %s: corrupt IDX data (after %d of %d bytes): %w", name, len(payload), total, err)
		}
		if int64(len(payload)) < total {
			return nil, nil, fmt.Errorf("file %s: truncated: IDX dimensions %v announce %d data bytes, found only %d", name, dims, total, len(payload))
		}
	}
	extra, err := io.Copy(io.Discard, src)
	if err != nil {
		return nil, nil, fmt.Errorf("file %s: corrupt data after the IDX payload: %w", name, err)
	}
	if extra > 0 {
		return nil, nil, fmt.Errorf("file %s: %d unexpected bytes after the %d data bytes announced by IDX dimensions %v", name, extra, total, dims)
	}
	return dims, payload, nil
}

// WriteIDX writes an uncompressed unsigned-byte IDX file with the given dimensions.
func WriteIDX(w io.Writer, dims []int, payload []uint8) error {
	if len(dims) < 1 || len(dims) > 255 {
		return fmt.Errorf("data: WriteIDX: %d dimensions", len(dims))
	}
	n := 1
	hdr := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		if d < 0 || int64(d) > 0xffffffff {
			return fmt.Errorf("data: WriteIDX: dimension %d out of range", d)
		}
		n *= d
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if n != len(payload) {
		return fmt.Errorf("data: WriteIDX: dimensions %v need %d bytes, payload has %d", dims, n, len(payload))
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("data: WriteIDX: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return fmt.Errorf("data: WriteIDX: %w", err)
	}
	return nil
}

// readIDXFile decodes the IDX file at path.
func readIDXFile(path string) ([]int, []uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	dims, payload, err := decodeIDX(f, path, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	return dims, payload, nil
}

// idxImages turns decoded IDX dimensions and payload into a dataset: [N,H,W] is a
// grey-scale set, [N,H,W,C] a set with C channels.
func idxImages(name string, dims []int, payload []uint8) (*Dataset, error) {
	for _, d := range dims[1:] {
		if d == 0 {
			return nil, fmt.Errorf("data: file %s: IDX image dimensions %v include a zero image size", name, dims)
		}
	}
	switch len(dims) {
	case 3:
		return &Dataset{Name: name, Images: payload, N: dims[0], H: dims[1], W: dims[2], C: 1}, nil
	case 4:
		return &Dataset{Name: name, Images: payload, N: dims[0], H: dims[1], W: dims[2], C: dims[3]}, nil
	}
	return nil, fmt.Errorf("data: file %s: IDX image file has dimensions %v: expected 3 ([N,H,W]) or 4 ([N,H,W,C])", name, dims)
}

// idxLabels turns decoded IDX dimensions and payload into labels.
func idxLabels(name string, dims []int, payload []uint8) ([]int, error) {
	if len(dims) != 1 {
		return nil, fmt.Errorf("data: file %s: IDX label file has dimensions %v: expected 1 ([N])", name, dims)
	}
	labels := make([]int, len(payload))
	for i, v := range payload {
		labels[i] = int(v)
	}
	return labels, nil
}

// ReadIDXImages reads an IDX image file (raw or gzip) with dimensions [N,H,W]
// (grey-scale, C = 1) or [N,H,W,C].
func ReadIDXImages(path string) (*Dataset, error) {
	dims, payload, err := readIDXFile(path)
	if err != nil {
		return nil, err
	}
	return idxImages(path, dims, payload)
}

// ReadIDXLabels reads an IDX label file (raw or gzip) with dimensions [N].
func ReadIDXLabels(path string) ([]int, error) {
	dims, payload, err := readIDXFile(path)
	if err != nil {
		return nil, err
	}
	return idxLabels(path, dims, payload)
}

// ReadIDX reads an IDX image file and, when labelsPath is not empty, the matching label
// file, whose count must equal the number of images.
func ReadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	ds, err := ReadIDXImages(imagesPath)
	if err != nil {
		return nil, err
	}
	if labelsPath == "" {
		return ds, nil
	}
	labels, err := ReadIDXLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != ds.N {
		return nil, fmt.Errorf("data: label file %s has %d labels but image file %s has %d images", labelsPath, len(labels), imagesPath, ds.N)
	}
	ds.Labels = labels
	return ds, nil
}

// mnistSubdirs are the places, relative to the given directory, where LoadMNIST looks
// for the files: the directory itself and the torchvision layouts.
var mnistSubdirs = []string{".", "raw", filepath.Join("MNIST", "raw"), filepath.Join("FashionMNIST", "raw")}

// findIDX returns the path of base or base+".gz" in the first of mnistSubdirs of dir
// that has it, or "".
func findIDX(dir, base string) string {
	for _, sub := range mnistSubdirs {
		for _, name := range []string{base + ".gz", base} {
			p := filepath.Join(dir, sub, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// LoadMNIST reads the MNIST-format split ("train" or "test"; "valid" means "test", as
// in the official code) from dir: train-images-idx3-ubyte / t10k-images-idx3-ubyte and
// the matching label files, each raw or gzip-compressed (".gz"), directly in dir or in
// dir/raw, dir/MNIST/raw or dir/FashionMNIST/raw. Fashion-MNIST uses the same names and
// format. A missing label file is not an error: the dataset then has no labels.
func LoadMNIST(dir, split string) (*Dataset, error) {
	sp, err := normSplit(split)
	if err != nil {
		return nil, err
	}
	prefix := map[string]string{"train": "train", "test": "t10k"}[sp]
	img := findIDX(dir, prefix+"-images-idx3-ubyte")
	if img == "" {
		return nil, fmt.Errorf("data: no %s images in %s: looked for %s-images-idx3-ubyte[.gz] in it and in its subdirectories %s",
			sp, dir, prefix, strings.Join(mnistSubdirs[1:], ", "))
	}
	lab := findIDX(dir, prefix+"-labels-idx1-ubyte")
	ds, err := ReadIDX(img, lab)
	if err != nil {
		return nil, err
	}
	ds.Name = sp
	return ds, nil
}

// normSplit maps a split name to "train" or "test".
func normSplit(split string) (string, error) {
	switch strings.ToLower(split) {
	case "train", "training":
		return "train", nil
	case "test", "valid", "val", "validation", "t10k":
		return "test", nil
	}
	return "", fmt.Errorf("data: unknown split %q: expected train or test (valid)", split)
}
