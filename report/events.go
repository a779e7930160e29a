package report

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// EventWriter writes a TensorBoard event file (events.out.tfevents.<unix time>.<host>)
// holding scalar and image summaries. The file is a sequence of TFRecords whose
// payloads are hand-encoded tensorflow.Event protocol buffers; the first record carries
// file_version "brain.Event:2".
//
// Records are buffered; Flush hands them to the operating system (TensorBoard then sees
// them) and Close flushes, syncs and closes the file. An EventWriter is safe for
// concurrent use.
type EventWriter struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	path string
	now  func() time.Time
	err  error // first write error; later calls return it
}

// NewEventWriter creates dir if needed and opens a new event file in it. If a file of
// the same name already exists (two writers in the same second), a numeric suffix is
// added rather than overwriting it.
func NewEventWriter(dir string) (*EventWriter, error) {
	return newEventWriter(dir, time.Now)
}

func newEventWriter(dir string, now func() time.Time) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: event writer: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	t := now()
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%010d.%s", t.Unix(), host))
	var f *os.File
	path := base
	for i := 1; ; i++ {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 1000 {
			return nil, fmt.Errorf("report: event writer: %w", err)
		}
		path = fmt.Sprintf("%s.%d", base, i)
	}
	ew := &EventWriter{f: f, w: bufio.NewWriter(f), path: path, now: now}
	var ev pbuf
	ev.double(1, wallTime(t))
	ev.varint(2, 0)
	ev.bytes(3, []byte("brain.Event:2"))
	if err := ew.writeRecord(ev.b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := ew.flush(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return ew, nil
}

// Path returns the path of the event file.
func (ew *EventWriter) Path() string { return ew.path }

// Scalar records value under tag (e.g. "train/nelbo_iter") at the given global step.
func (ew *EventWriter) Scalar(tag string, step int64, value float32) error {
	var v pbuf
	v.bytes(1, []byte(tag))
	v.fixed32(2, math.Float32bits(value))
	return ew.summary(step, v.b)
}

// Image records img, PNG-encoded, under tag at the given global step (TensorBoard's
// IMAGES tab), e.g. a ReconGrid.
func (ew *EventWriter) Image(tag string, step int64, img image.Image) error {
	if img == nil {
		return fmt.Errorf("report: event image %q: nil image", tag)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("report: event image %q: %w", tag, err)
	}
	b := img.Bounds()
	var im pbuf
	im.varint(1, uint64(b.Dy()))
	im.varint(2, uint64(b.Dx()))
	colorspace := uint64(4) // RGBA
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		colorspace = 3 // RGB: png.Encode drops the alpha channel of opaque images
	}
	im.varint(3, colorspace)
	im.bytes(4, buf.Bytes())
	var v pbuf
	v.bytes(1, []byte(tag))
	v.bytes(4, im.b)
	return ew.summary(step, v.b)
}

// summary writes an Event{wall_time, step, summary{value}} holding one encoded
// Summary.Value.
func (ew *EventWriter) summary(step int64, value []byte) error {
	var s pbuf
	s.bytes(1, value)
	var ev pbuf
	ev.double(1, wallTime(ew.now()))
	ev.varint(2, uint64(step))
	ev.bytes(5, s.b)
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.writeRecord(ev.b)
}

// Flush writes buffered records to the file.
func (ew *EventWriter) Flush() error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.flush()
}

func (ew *EventWriter) flush() error {
	if ew.err != nil {
		return ew.err
	}
	if err := ew.w.Flush(); err != nil {
		ew.err = fmt.Errorf("report: event file %s: %w", ew.path, err)
	}
	return ew.err
}

// Close flushes, syncs and closes the event file. Writes after Close fail.
func (ew *EventWriter) Close() error {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if ew.f == nil {
		return nil
	}
	err := ew.flush()
	if serr := ew.f.Sync(); err == nil && serr != nil {
		err = fmt.Errorf("report: event file %s: %w", ew.path, serr)
	}
	if cerr := ew.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("report: event file %s: %w", ew.path, cerr)
	}
	ew.f = nil
	if ew.err == nil {
		ew.err = fmt.Errorf("report: event file %s: closed", ew.path)
	}
	return err
}

// writeRecord appends one TFRecord: uint64 length, masked CRC32C of the length bytes,
// data, masked CRC32C of the data (all little-endian). Caller holds mu (or owns ew).
func (ew *EventWriter) writeRecord(data []byte) error {
	if ew.err != nil {
		return ew.err
	}
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC32C(hdr[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], maskedCRC32C(data))
	for _, p := range [][]byte{hdr[:], data, tail[:]} {
		if _, err := ew.w.Write(p); err != nil {
			ew.err = fmt.Errorf("report: event file %s: %w", ew.path, err)
			return ew.err
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC32C is TFRecord's checksum: the CRC-32C (Castagnoli) of b, rotated right by
// 15 bits plus 0xa282ead8.
func maskedCRC32C(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// wallTime is t in seconds since the Unix epoch, with sub-second precision.
func wallTime(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// pbuf is a minimal protocol-buffer encoder for the handful of field types events need.
type pbuf struct{ b []byte }

func (p *pbuf) key(field, wire int) { p.b = binary.AppendUvarint(p.b, uint64(field<<3|wire)) }

// varint writes an integer field (int32/int64/uint64: negative values as their 64-bit
// two's complement, as protobuf does).
func (p *pbuf) varint(field int, v uint64) {
	p.key(field, 0)
	p.b = binary.AppendUvarint(p.b, v)
}

func (p *pbuf) double(field int, v float64) {
	p.key(field, 1)
	p.b = binary.LittleEndian.AppendUint64(p.b, math.Float64bits(v))
}

func (p *pbuf) fixed32(field int, v uint32) {
	p.key(field, 5)
	p.b = binary.LittleEndian.AppendUint32(p.b, v)
}

// bytes writes a length-delimited field (string, bytes or embedded message).
func (p *pbuf) bytes(field int, v []byte) {
	p.key(field, 2)
	p.b = binary.AppendUvarint(p.b, uint64(len(v)))
	p.b = append(p.b, v...)
}
