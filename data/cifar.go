package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// CIFAR-10 geometry: 32×32 RGB images, one label byte before each binary record.
const (
	cifarSide      = 32
	cifarImageSize = 3 * cifarSide * cifarSide
	cifarRecord    = 1 + cifarImageSize
	cifarClasses   = 10
)

// Official directory names inside the CIFAR-10 archives.
const (
	cifarBinDir = "cifar-10-batches-bin"
	cifarPyDir  = "cifar-10-batches-py"
)

// chwToHWC appends one 3×32×32 CHW image to dst in HWC order.
func chwToHWC(dst, chw []uint8) []uint8 {
	const hw = cifarSide * cifarSide
	for p := 0; p < hw; p++ {
		dst = append(dst, chw[p], chw[hw+p], chw[2*hw+p])
	}
	return dst
}

// DecodeCIFAR10Binary decodes the CIFAR-10 binary format (records of one label byte
// followed by 3072 bytes of CHW pixels) from b, appending the images in HWC order to
// images and the labels to labels. name is used in error messages.
func DecodeCIFAR10Binary(b []byte, name string, images []uint8, labels []int) ([]uint8, []int, error) {
	if len(b) == 0 || len(b)%cifarRecord != 0 {
		return images, labels, fmt.Errorf("file %s: size %d is not a positive multiple of the %d-byte CIFAR-10 record (1 label byte + 3072 pixel bytes)",
			name, len(b), cifarRecord)
	}
	for off := 0; off < len(b); off += cifarRecord {
		l := int(b[off])
		if l >= cifarClasses {
			return images, labels, fmt.Errorf("file %s: record %d has label %d: expected 0..%d", name, off/cifarRecord, l, cifarClasses-1)
		}
		labels = append(labels, l)
		images = chwToHWC(images, b[off+1:off+cifarRecord])
	}
	return images, labels, nil
}

// DecodeCIFAR10Pickle decodes one batch of the CIFAR-10 Python version: a pickled dict
// whose "data" entry is a uint8 numpy array [N,3072] of CHW pixels and whose "labels"
// entry lists N labels. The images are appended in HWC order to images, the labels to
// labels. name is used in error messages.
func DecodeCIFAR10Pickle(r io.Reader, name string, images []uint8, labels []int) ([]uint8, []int, error) {
	obj, err := unpickle(r)
	if err != nil {
		return images, labels, fmt.Errorf("file %s: unpickling: %w", name, err)
	}
	d, ok := obj.(*types.Dict)
	if !ok {
		return images, labels, fmt.Errorf("file %s: expected a pickled dict, found %T", name, obj)
	}
	dv, ok := dictGet(d, "data")
	if !ok {
		return images, labels, fmt.Errorf("file %s: pickled dict has no 'data' entry", name)
	}
	arr, ok := dv.(*npArray)
	if !ok {
		return images, labels, fmt.Errorf("file %s: 'data' is %T, expected a numpy array", name, dv)
	}
	if arr.dtype.kind != "u1" {
		return images, labels, fmt.Errorf("file %s: 'data' has numpy dtype %q, expected uint8 (u1)", name, arr.dtype.kind)
	}
	if len(arr.shape) != 2 || arr.shape[1] != cifarImageSize || arr.fortran {
		return images, labels, fmt.Errorf("file %s: 'data' has shape %v (fortran=%v), expected [N %d] in C order", name, arr.shape, arr.fortran, cifarImageSize)
	}
	n := arr.shape[0]
	if len(arr.raw) != n*cifarImageSize {
		return images, labels, fmt.Errorf("file %s: 'data' of shape %v needs %d bytes, found %d", name, arr.shape, n*cifarImageSize, len(arr.raw))
	}
	lv, ok := dictGet(d, "labels")
	if !ok {
		return images, labels, fmt.Errorf("file %s: pickled dict has no 'labels' entry", name)
	}
	var labs []int
	switch l := lv.(type) {
	case *types.List:
		for i, v := range *l {
			x, ok := v.(int)
			if !ok {
				return images, labels, fmt.Errorf("file %s: label %d is %T, expected an int", name, i, v)
			}
			labs = append(labs, x)
		}
	case *npArray:
		if labs, err = l.ints(); err != nil {
			return images, labels, fmt.Errorf("file %s: 'labels': %w", name, err)
		}
	default:
		return images, labels, fmt.Errorf("file %s: 'labels' is %T, expected a list", name, lv)
	}
	if len(labs) != n {
		return images, labels, fmt.Errorf("file %s: %d labels for %d images", name, len(labs), n)
	}
	for i, l := range labs {
		if l < 0 || l >= cifarClasses {
			return images, labels, fmt.Errorf("file %s: image %d has label %d: expected 0..%d", name, i, l, cifarClasses-1)
		}
	}
	for i := 0; i < n; i++ {
		images = chwToHWC(images, arr.raw[i*cifarImageSize:(i+1)*cifarImageSize])
	}
	return images, append(labels, labs...), nil
}

// cifarMembers lists the batch files of a split, in the order torchvision concatenates
// them, without the ".bin" suffix of the binary version.
func cifarMembers(split string) []string {
	if split == "train" {
		return []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"}
	}
	return []string{"test_batch"}
}

// LoadCIFAR10 reads a CIFAR-10 split ("train": data_batch_1..5; "test" or "valid":
// test_batch). p may be
//   - an official archive, cifar-10-binary.tar.gz or cifar-10-python.tar.gz, read
//     directly without extracting;
//   - a directory holding the batch files (binary *.bin or Python pickles);
//   - a directory holding cifar-10-batches-bin/, cifar-10-batches-py/ or one of the
//     archives.
func LoadCIFAR10(p, split string) (*Dataset, error) {
	sp, err := normSplit(split)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("data: cifar10: %w", err)
	}
	var images []uint8
	var labels []int
	if st.Mode().IsRegular() {
		images, labels, err = readCIFARArchive(p, sp)
	} else {
		images, labels, err = readCIFARDir(p, sp)
	}
	if err != nil {
		return nil, err
	}
	return &Dataset{Name: sp, Images: images, N: len(labels), H: cifarSide, W: cifarSide, C: 3, Labels: labels}, nil
}

// isFile reports whether p is a regular file.
func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readCIFARDir finds the batches of split under dir (see LoadCIFAR10).
func readCIFARDir(dir, split string) ([]uint8, []int, error) {
	members := cifarMembers(split)
	for _, d := range []string{filepath.Join(dir, cifarBinDir), dir} {
		if isFile(filepath.Join(d, members[0]+".bin")) {
			var images []uint8
			var labels []int
			for _, m := range members {
				f := filepath.Join(d, m+".bin")
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, nil, fmt.Errorf("data: cifar10: %w", err)
				}
				if images, labels, err = DecodeCIFAR10Binary(b, f, images, labels); err != nil {
					return nil, nil, fmt.Errorf("data: cifar10: %w", err)
				}
			}
			return images, labels, nil
		}
	}
	for _, d := range []string{filepath.Join(dir, cifarPyDir), dir} {
		if isFile(filepath.Join(d, members[0])) {
			var images []uint8
			var labels []int
			for _, m := range members {
				f := filepath.Join(d, m)
				fh, err := os.Open(f)
				if err != nil {
					return nil, nil, fmt.Errorf("data: cifar10: %w", err)
				}
				images, labels, err = DecodeCIFAR10Pickle(fh, f, images, labels)
				fh.Close()
				if err != nil {
					return nil, nil, fmt.Errorf("data: cifar10: %w", err)
				}
			}
			return images, labels, nil
		}
	}
	for _, a := range []string{"cifar-10-binary.tar.gz", "cifar-10-python.tar.gz"} {
		if f := filepath.Join(dir, a); isFile(f) {
			return readCIFARArchive(f, split)
		}
	}
	return nil, nil, fmt.Errorf("data: cifar10: no %s data in %s: expected %s/%s.bin, %s/%s, %s.bin, %s (pickle), cifar-10-binary.tar.gz or cifar-10-python.tar.gz",
		split, dir, cifarBinDir, members[0], cifarPyDir, members[0], members[0], members[0])
}

// maxCIFARMember bounds the size of an archive member read into memory.
const maxCIFARMember = 1 << 30

// readCIFARArchive reads the batches of split from an official .tar.gz archive of
// either layout, streaming through it once.
func readCIFARArchive(file, split string) ([]uint8, []int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("data: cifar10: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("data: cifar10: archive %s: not a gzip file: %w", file, err)
	}
	members := cifarMembers(split)
	want := map[string]int{}
	for i, m := range members {
		want[cifarBinDir+"/"+m+".bin"] = i
		want[cifarPyDir+"/"+m] = i
	}
	type part struct {
		images []uint8
		labels []int
	}
	parts := map[string][]*part{cifarBinDir: make([]*part, len(members)), cifarPyDir: make([]*part, len(members))}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("data: cifar10: archive %s is corrupt or truncated: %w", file, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		i, ok := want[name]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxCIFARMember {
			return nil, nil, fmt.Errorf("data: cifar10: archive %s: member %s has implausible size %d", file, name, h.Size)
		}
		b := make([]byte, h.Size)
		if n, err := io.ReadFull(tr, b); err != nil {
			return nil, nil, fmt.Errorf("data: cifar10: archive %s: member %s truncated: expected %d bytes, found %d: %w", file, name, h.Size, n, err)
		}
		where := file + ":" + name
		pt := &part{}
		if path.Dir(name) == cifarBinDir {
			pt.images, pt.labels, err = DecodeCIFAR10Binary(b, where, nil, nil)
			parts[cifarBinDir][i] = pt
		} else {
			pt.images, pt.labels, err = DecodeCIFAR10Pickle(bytes.NewReader(b), where, nil, nil)
			parts[cifarPyDir][i] = pt
		}
		if err != nil {
			return nil, nil, fmt.Errorf("data: cifar10: %w", err)
		}
	}
	var missing []string
	for _, layout := range []string{cifarBinDir, cifarPyDir} {
		ps := parts[layout]
		var images []uint8
		var labels []int
		found := 0
		for _, pt := range ps {
			if pt != nil {
				found++
				images = append(images, pt.images...)
				labels = append(labels, pt.labels...)
			}
		}
		if found == len(ps) {
			return images, labels, nil
		}
		if found > 0 {
			for i, pt := range ps {
				if pt == nil {
					m := layout + "/" + members[i]
					if layout == cifarBinDir {
						m += ".bin"
					}
					missing = append(missing, m)
				}
			}
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("data: cifar10: archive %s lacks %s", file, strings.Join(missing, ", "))
	}
	return nil, nil, fmt.Errorf("data: cifar10: archive %s holds no %s batches: expected %s/%s.bin or %s/%s", file, split, cifarBinDir, members[0], cifarPyDir, members[0])
}
