package tensorfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/nvae-go/nvae/internal/atomicfile"
	"github.com/nvae-go/nvae/tensor"
)

// Named is one tensor of a file: its name, its shape (row-major; [] is a
// scalar), the element type it is (or is to be) stored as, and its values
// converted to float32.
type Named struct {
	Name  string
	Shape []int
	// DType is the stored element type (F32, F16, BF16, F64, I64, I32, I16, I8,
	// U8, BOOL). The empty string means F32 when writing.
	DType string
	Data  []float32
}

// NewNamed returns a Named F32 entry holding t's shape and data (not copied).
func NewNamed(name string, t *tensor.Tensor) Named {
	return Named{Name: name, Shape: slices.Clone(t.Shape()), DType: F32, Data: t.Data()}
}

// Tensor wraps n's data (not copied) in a tensor of n's shape. It panics if the
// number of values does not match the shape.
func (n Named) Tensor() *tensor.Tensor {
	return tensor.FromData(n.Data, n.Shape...)
}

// File is the content of a safetensors file: the tensors in file order and the
// string metadata (the "__metadata__" entry, nil when absent).
type File struct {
	Tensors  []Named
	Metadata map[string]string
}

// Lookup returns the tensor with the given name.
func (f *File) Lookup(name string) (Named, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Named{}, false
}

// Names returns the tensor names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	return names
}

// Map returns the tensors indexed by name.
func (f *File) Map() map[string]Named {
	m := make(map[string]Named, len(f.Tensors))
	for _, t := range f.Tensors {
		m[t.Name] = t
	}
	return m
}

// maxHeaderLen bounds the JSON header, as the reference implementation does.
const maxHeaderLen = 100 << 20

// metadataKey is the reserved header entry holding the string metadata.
const metadataKey = "__metadata__"

// ReadSafetensors reads a safetensors file. Tensors keep the order of the JSON
// header, unless the metadata holds "keys_in_order" (a JSON list of the tensor
// names, as the NVAE fixtures write), which then gives the order. All dtypes are
// converted to float32; Named.DType keeps the stored one. When the metadata holds
// ChecksumKey the data section is verified against it (a mismatch is an error
// saying the data is corrupted) and the entry is removed from File.Metadata.
func ReadSafetensors(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return ReadSafetensorsBytes(path, data)
}

// ReadSafetensorsBytes parses a safetensors file held in memory; name is used in
// error messages only.
func ReadSafetensorsBytes(name string, data []byte) (*File, error) {
	f, err := parseSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", name, err)
	}
	return f, nil
}

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

type entrySpan struct {
	idx        int
	begin, end int64
}

func parseSafetensors(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n, err := headerLen(data[:8], int64(len(data)))
	if err != nil {
		return nil, err
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	f, spans, err := parseHeader(header, int64(len(body)))
	if err != nil {
		return nil, err
	}
	if f.Metadata, err = verifyChecksum(f.Metadata, int64(len(body)), func() (uint32, error) {
		return crc32.Checksum(body, castagnoli), nil
	}); err != nil {
		return nil, err
	}
	for i, s := range spans {
		t := &f.Tensors[i]
		t.Data = make([]float32, tensor.Numel(t.Shape))
		decodeElems(t.Data, body[s.begin:s.end], t.DType, binary.LittleEndian)
	}
	reorderByMetadata(f, nil)
	return f, nil
}

// headerLen reads the header length field (the first 8 bytes) of a file of size bytes
// and checks it against the file and the limit.
func headerLen(field []byte, size int64) (int64, error) {
	n := binary.LittleEndian.Uint64(field)
	if n > uint64(size-8) {
		return 0, fmt.Errorf("header length %d exceeds the %d bytes after the length field", n, size-8)
	}
	if n > maxHeaderLen {
		return 0, fmt.Errorf("header length %d exceeds the limit %d", n, maxHeaderLen)
	}
	return int64(n), nil
}

// ReadSafetensorsSelected is ReadSafetensors for the tensors whose names keep accepts:
// only their bytes are read and decoded (the others are checked in the header and
// left out of the File), and the checksum, when the metadata holds one, is computed
// by streaming the data section, so memory holds the selected tensors only. The
// "keys_in_order" metadata orders the selected tensors when it lists every tensor of
// the file.
func ReadSafetensorsSelected(path string, keep func(name string) bool) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	f, err := readSelected(fh, keep)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return f, nil
}

func readSelected(fh *os.File, keep func(name string) bool) (*File, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", size)
	}
	var field [8]byte
	if _, err := fh.ReadAt(field[:], 0); err != nil {
		return nil, fmt.Errorf("reading the header length: %w", err)
	}
	n, err := headerLen(field[:], size)
	if err != nil {
		return nil, err
	}
	header := make([]byte, n)
	if _, err := fh.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	bodyOff, bodyLen := 8+n, size-8-n
	f, spans, err := parseHeader(header, bodyLen)
	if err != nil {
		return nil, err
	}
	if f.Metadata, err = verifyChecksum(f.Metadata, bodyLen, func() (uint32, error) {
		h := crc32.New(castagnoli)
		if _, err := io.Copy(h, io.NewSectionReader(fh, bodyOff, bodyLen)); err != nil {
			return 0, fmt.Errorf("reading the data: %w", err)
		}
		return h.Sum32(), nil
	}); err != nil {
		return nil, err
	}
	reorderByMetadata(f, spans)
	var kept []Named
	var buf []byte
	for i, t := range f.Tensors {
		if !keep(t.Name) {
			continue
		}
		s := spans[i]
		if int64(cap(buf)) < s.end-s.begin {
			buf = make([]byte, s.end-s.begin)
		}
		b := buf[:s.end-s.begin]
		if _, err := fh.ReadAt(b, bodyOff+s.begin); err != nil {
			return nil, fmt.Errorf("tensor %q: reading its data: %w", t.Name, err)
		}
		t.Data = make([]float32, tensor.Numel(t.Shape))
		decodeElems(t.Data, b, t.DType, binary.LittleEndian)
		kept = append(kept, t)
	}
	f.Tensors = kept
	return f, nil
}

// parseHeader parses and checks the JSON header of a file whose data section holds
// bodyLen bytes: the tensors (without their data) in header order, with their byte
// spans in the data section, and the metadata.
func parseHeader(header []byte, bodyLen int64) (*File, []entrySpan, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("bad JSON header: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("bad JSON header: expected an object, found %v", tok)
	}
	f := &File{}
	seen := map[string]bool{}
	var spans []entrySpan
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("bad JSON header: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("bad JSON header: expected a key, found %v", tok)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("bad JSON header: duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			md, err := decodeMetadata(dec)
			if err != nil {
				return nil, nil, err
			}
			f.Metadata = md
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("bad JSON header: tensor %q: %w", key, err)
		}
		t, span, err := checkEntry(key, e, bodyLen)
		if err != nil {
			return nil, nil, err
		}
		span.idx = len(f.Tensors)
		spans = append(spans, span)
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, fmt.Errorf("bad JSON header: %w", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fmt.Errorf("bad JSON header: %w", err)
		}
		return nil, nil, fmt.Errorf("bad JSON header: unexpected %v after the object", tok)
	}

	// Offsets must not overlap (zero-length tensors occupy no bytes).
	sorted := slices.Clone(spans)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].begin < sorted[j].begin })
	var prev *entrySpan
	for i := range sorted {
		s := &sorted[i]
		if s.begin == s.end {
			continue
		}
		if prev != nil && s.begin < prev.end {
			return nil, nil, fmt.Errorf("tensor %q [%d, %d) overlaps tensor %q [%d, %d)",
				f.Tensors[s.idx].Name, s.begin, s.end, f.Tensors[prev.idx].Name, prev.begin, prev.end)
		}
		prev = s
	}

	return f, spans, nil
}

// decodeMetadata reads the "__metadata__" value: an object of strings. A value
// that is not a JSON string is kept as its JSON text.
func decodeMetadata(dec *json.Decoder) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("bad JSON header: %s: %w", metadataKey, err)
	}
	md := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			md[k] = s
		} else {
			md[k] = string(v)
		}
	}
	return md, nil
}

// checkEntry validates one header entry against the data section size.
func checkEntry(name string, e headerEntry, bodyLen int64) (Named, entrySpan, error) {
	size := dtypeSize(e.DType)
	if size == 0 {
		return Named{}, entrySpan{}, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
	}
	if e.Shape == nil {
		return Named{}, entrySpan{}, fmt.Errorf("tensor %q: missing shape", name)
	}
	if len(e.DataOffsets) != 2 {
		return Named{}, entrySpan{}, fmt.Errorf("tensor %q: data_offsets must hold 2 values, found %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > bodyLen {
		return Named{}, entrySpan{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range of the %d data bytes", name, begin, end, bodyLen)
	}
	shape := make([]int, len(e.Shape))
	numel := int64(1)
	for i, d := range e.Shape {
		if d < 0 {
			return Named{}, entrySpan{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		shape[i] = int(d)
		if d != 0 && numel > bodyLen/d {
			return Named{}, entrySpan{}, fmt.Errorf("tensor %q: shape %v is larger than the %d data bytes", name, e.Shape, bodyLen)
		}
		numel *= d
	}
	if want := numel * int64(size); end-begin != want {
		return Named{}, entrySpan{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] span %d bytes, but shape %v of %s needs %d",
			name, begin, end, end-begin, e.Shape, e.DType, want)
	}
	return Named{Name: name, Shape: shape, DType: e.DType}, entrySpan{begin: begin, end: end}, nil
}

// reorderByMetadata orders f.Tensors (and spans, when not nil, in step) by the
// "keys_in_order" metadata when it is a JSON list holding exactly the tensor names;
// otherwise it leaves them as they are.
func reorderByMetadata(f *File, spans []entrySpan) {
	s, ok := f.Metadata["keys_in_order"]
	if !ok {
		return
	}
	var keys []string
	if json.Unmarshal([]byte(s), &keys) != nil || len(keys) != len(f.Tensors) {
		return
	}
	pos := make(map[string]int, len(f.Tensors))
	for i, t := range f.Tensors {
		pos[t.Name] = i
	}
	order := make([]int, 0, len(keys))
	for _, k := range keys {
		i, ok := pos[k]
		if !ok {
			return
		}
		delete(pos, k) // a repeated key leaves another name out: give up
		order = append(order, i)
	}
	ts := make([]Named, len(order))
	var ss []entrySpan
	if spans != nil {
		ss = make([]entrySpan, len(order))
	}
	for j, i := range order {
		ts[j] = f.Tensors[i]
		if spans != nil {
			ss[j] = spans[i]
		}
	}
	f.Tensors = ts
	copy(spans, ss)
}

// WriteSafetensors writes tensors, in the given order, and metadata to path as a
// safetensors file, with the checksum of the data in the metadata (ChecksumKey). Each tensor is stored as its DType (F32 when
// empty; integer dtypes such as I64 require integral values). The file is written
// atomically (atomicfile.Write).
func WriteSafetensors(path string, tensors []Named, metadata map[string]string) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		return EncodeSafetensors(w, tensors, metadata)
	})
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}

// ChecksumKey is the metadata entry in which EncodeSafetensors stores the CRC-32C
// (Castagnoli) of the data section (every byte after the header), as 8 lowercase hex
// digits. Readers verify it when present and remove it from File.Metadata; files
// without it (written by other tools) load unchecked. Other safetensors readers see an
// ordinary string entry (docs/formats.md#safetensors).
const ChecksumKey = "nvae.crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeChunk is the number of elements encoded at a time when writing, which bounds
// the encoding buffer independently of the tensor sizes.
const encodeChunk = 1 << 18

// EncodeSafetensors writes the safetensors encoding of tensors and metadata to w.
// The JSON header lists "__metadata__" first (keys sorted), then the tensors in
// order, and is padded with spaces to a multiple of 8 bytes. The metadata always
// holds ChecksumKey, the checksum of the data section (computed here: a value given
// in metadata is replaced).
func EncodeSafetensors(w io.Writer, tensors []Named, metadata map[string]string) error {
	seen := make(map[string]bool, len(tensors))
	dtypes := make([]string, len(tensors))
	for i, t := range tensors {
		switch {
		case t.Name == "":
			return fmt.Errorf("tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return fmt.Errorf("tensor name %q is reserved", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
		}
		if n := tensor.Numel(t.Shape); n != len(t.Data) {
			return fmt.Errorf("tensor %q: %d values for shape %v", t.Name, len(t.Data), t.Shape)
		}
		dt := t.DType
		if dt == "" {
			dt = F32
		}
		if dtypeSize(dt) == 0 {
			return fmt.Errorf("tensor %q: unknown dtype %q", t.Name, dt)
		}
		if err := checkRepresentable(t.Data, dt); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		dtypes[i] = dt
	}

	// First pass over the data: its checksum, which the header holds.
	var buf []byte
	var crc uint32
	buf, err := encodeData(buf, tensors, dtypes, func(b []byte) error {
		crc = crc32.Update(crc, castagnoli, b)
		return nil
	})
	if err != nil {
		return err
	}
	md := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		md[k] = v
	}
	md[ChecksumKey] = fmt.Sprintf("%08x", crc)

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hdr.WriteString(strconv.Quote(metadataKey))
	hdr.WriteString(":{")
	for i, k := range keys {
		if i > 0 {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, k)
		hdr.WriteByte(':')
		writeJSONString(&hdr, md[k])
	}
	hdr.WriteByte('}')
	var offset int64
	for i, t := range tensors {
		hdr.WriteByte(',')
		writeJSONString(&hdr, t.Name)
		size := int64(len(t.Data) * dtypeSize(dtypes[i]))
		fmt.Fprintf(&hdr, `:{"dtype":%q,"shape":[`, dtypes[i])
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, offset+size)
		offset += size
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	// Second pass: the data itself.
	_, err = encodeData(buf, tensors, dtypes, func(b []byte) error {
		_, err := w.Write(b)
		return err
	})
	return err
}

// encodeData encodes the tensors' values in order, encodeChunk elements at a time
// into buf, and hands each chunk to sink. It returns the (possibly grown) buffer.
func encodeData(buf []byte, tensors []Named, dtypes []string, sink func([]byte) error) ([]byte, error) {
	for i, t := range tensors {
		for lo := 0; lo < len(t.Data); lo += encodeChunk {
			hi := min(lo+encodeChunk, len(t.Data))
			var err error
			buf, err = encodeElems(buf[:0], t.Data[lo:hi], dtypes[i])
			if err != nil {
				return buf, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			if err := sink(buf); err != nil {
				return buf, err
			}
		}
	}
	return buf, nil
}

// verifyChecksum checks the data section (size bytes, whose CRC-32C crc computes)
// against the ChecksumKey entry of md, when there is one, and removes the entry (md
// becomes nil when it held nothing else).
func verifyChecksum(md map[string]string, size int64, crc func() (uint32, error)) (map[string]string, error) {
	want, ok := md[ChecksumKey]
	if !ok {
		return md, nil
	}
	w, err := strconv.ParseUint(want, 16, 32)
	if err != nil || len(want) != 8 {
		return nil, fmt.Errorf("metadata %s = %q is not 8 hex digits", ChecksumKey, want)
	}
	got, err := crc()
	if err != nil {
		return nil, err
	}
	if got != uint32(w) {
		return nil, fmt.Errorf("checksum mismatch: data corrupted (CRC-32C of the %d data bytes is %08x, the header records %s)", size, got, want)
	}
	delete(md, ChecksumKey)
	if len(md) == 0 {
		md = nil
	}
	return md, nil
}

// writeJSONString writes s as a JSON string literal.
func writeJSONString(b *bytes.Buffer, s string) {
	q, err := json.Marshal(s)
	if err != nil {
		panic(errors.New("tensorfile: json.Marshal of a string failed")) // cannot happen
	}
	b.Write(q)
}
