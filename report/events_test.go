package report

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMaskedCRC32C(t *testing.T) {
	tests := []struct {
		in        []byte
		crc, mask uint32
	}{
		// Standard CRC-32C check value and the RFC 3720 (iSCSI) all-zero vector; the
		// masked values were computed independently of this package.
		{[]byte("123456789"), 0xE3069283, 0xC78AB0E5},
		{make([]byte, 32), 0x8A9136AA, 0},
	}
	for _, tc := range tests {
		if got := crc32.Checksum(tc.in, castagnoli); got != tc.crc {
			t.Errorf("crc32c(%q) = %#x, want %#x", tc.in, got, tc.crc)
		}
		want := tc.mask
		if want == 0 {
			want = ((tc.crc >> 15) | (tc.crc << 17)) + 0xa282ead8
		}
		if got := maskedCRC32C(tc.in); got != want {
			t.Errorf("masked crc32c(%q) = %#x, want %#x", tc.in, got, want)
		}
	}
}

// tfEvent is what the test reader decodes from one Event record.
type tfEvent struct {
	wallTime    float64
	step        int64
	fileVersion string
	values      []tfValue
	// sessionStatus is session_log.status (field 7), -1 when absent.
	sessionStatus int
}

type tfValue struct {
	tag         string
	simple      float32
	hasSimple   bool
	imgW, imgH  int
	imgEncoded  []byte
	unknownKeys []int
}

// readRecords splits a TFRecord file, verifying both checksums of every record.
func readRecords(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("truncated record header (%d bytes)", len(b))
		}
		n := binary.LittleEndian.Uint64(b[:8])
		if got, want := binary.LittleEndian.Uint32(b[8:12]), maskedCRC32CRef(b[:8]); got != want {
			t.Fatalf("length crc %#x, want %#x", got, want)
		}
		if uint64(len(b)-16) < n {
			t.Fatalf("truncated record data")
		}
		data := b[12 : 12+n]
		if got, want := binary.LittleEndian.Uint32(b[12+n:16+n]), maskedCRC32CRef(data); got != want {
			t.Fatalf("data crc %#x, want %#x", got, want)
		}
		recs = append(recs, data)
		b = b[16+n:]
	}
	return recs
}

// maskedCRC32CRef is a bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78) with the
// TFRecord mask, independent of hash/crc32.
func maskedCRC32CRef(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	c = ^c
	return (c>>15 | c<<17) + 0xa282ead8
}

// field is one decoded protobuf field.
type field struct {
	num, wire int
	u         uint64 // varint, fixed64, fixed32
	b         []byte // length-delimited
}

func parseFields(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		k, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatal("bad key varint")
		}
		b = b[n:]
		f := field{num: int(k >> 3), wire: int(k & 7)}
		switch f.wire {
		case 0:
			f.u, n = binary.Uvarint(b)
			if n <= 0 {
				t.Fatal("bad varint")
			}
			b = b[n:]
		case 1:
			f.u = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 5:
			f.u = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				t.Fatal("bad length")
			}
			f.b = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			t.Fatalf("unexpected wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out
}

func decodeEvent(t *testing.T, data []byte) tfEvent {
	ev := tfEvent{sessionStatus: -1}
	for _, f := range parseFields(t, data) {
		switch {
		case f.num == 1 && f.wire == 1:
			ev.wallTime = math.Float64frombits(f.u)
		case f.num == 2 && f.wire == 0:
			ev.step = int64(f.u)
		case f.num == 3 && f.wire == 2:
			ev.fileVersion = string(f.b)
		case f.num == 7 && f.wire == 2:
			ev.sessionStatus = 0
			for _, sf := range parseFields(t, f.b) {
				if sf.num == 1 && sf.wire == 0 {
					ev.sessionStatus = int(sf.u)
				}
			}
		case f.num == 5 && f.wire == 2:
			for _, sv := range parseFields(t, f.b) {
				if sv.num != 1 || sv.wire != 2 {
					t.Fatalf("summary field %d/%d", sv.num, sv.wire)
				}
				var v tfValue
				for _, vf := range parseFields(t, sv.b) {
					switch {
					case vf.num == 1 && vf.wire == 2:
						v.tag = string(vf.b)
					case vf.num == 2 && vf.wire == 5:
						v.simple = math.Float32frombits(uint32(vf.u))
						v.hasSimple = true
					case vf.num == 4 && vf.wire == 2:
						for _, imf := range parseFields(t, vf.b) {
							switch imf.num {
							case 1:
								v.imgH = int(imf.u)
							case 2:
								v.imgW = int(imf.u)
							case 4:
								v.imgEncoded = imf.b
							}
						}
					default:
						v.unknownKeys = append(v.unknownKeys, vf.num)
					}
				}
				ev.values = append(ev.values, v)
			}
		default:
			t.Fatalf("unexpected event field %d wire %d", f.num, f.wire)
		}
	}
	return ev
}

func TestEventWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb")
	clock := time.Unix(1700000000, 250_000_000)
	ew, err := newEventWriter(dir, func() time.Time { clock = clock.Add(time.Second); return clock })
	if err != nil {
		t.Fatal(err)
	}
	scalars := []struct {
		tag  string
		step int64
		v    float32
	}{
		{"train/nelbo_iter", 0, 1234.5},
		{"train/lr", 100, 1e-2},
		{"kl_vals/layer_17", 1 << 40, -3.25},
		{"train/nan", 200, float32(math.NaN())},
		{"neg/step", -1, float32(math.Inf(1))},
	}
	for _, s := range scalars {
		if err := ew.Scalar(s.tag, s.step, s.v); err != nil {
			t.Fatal(err)
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	img.Pix[0], img.Pix[3] = 200, 255
	if err := ew.Image("reconstruction", 1000, img); err != nil {
		t.Fatal(err)
	}
	if err := ew.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Scalar("late", 1, 1); err == nil {
		t.Error("Scalar after Close: no error")
	}

	base := filepath.Base(ew.Path())
	host, _ := os.Hostname()
	if want := fmt.Sprintf("events.out.tfevents.1700000001.%s", host); base != want {
		t.Errorf("file name %q, want %q", base, want)
	}
	raw, err := os.ReadFile(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, raw)
	if len(recs) != len(scalars)+2 {
		t.Fatalf("%d records, want %d", len(recs), len(scalars)+2)
	}
	first := decodeEvent(t, recs[0])
	if first.fileVersion != "brain.Event:2" || first.wallTime != 1700000001.25 || len(first.values) != 0 {
		t.Errorf("first event %+v", first)
	}
	for i, s := range scalars {
		ev := decodeEvent(t, recs[i+1])
		if ev.step != s.step || ev.wallTime != 1700000002.25+float64(i) || len(ev.values) != 1 {
			t.Fatalf("event %d: %+v", i, ev)
		}
		v := ev.values[0]
		same := v.simple == s.v || (math.IsNaN(float64(v.simple)) && math.IsNaN(float64(s.v)))
		if v.tag != s.tag || !v.hasSimple || !same || len(v.unknownKeys) != 0 {
			t.Errorf("event %d value %+v, want %s=%v", i, v, s.tag, s.v)
		}
	}
	ie := decodeEvent(t, recs[len(recs)-1])
	if ie.step != 1000 || len(ie.values) != 1 || ie.values[0].tag != "reconstruction" {
		t.Fatalf("image event %+v", ie)
	}
	iv := ie.values[0]
	if iv.imgW != 5 || iv.imgH != 3 {
		t.Errorf("image size %dx%d", iv.imgW, iv.imgH)
	}
	back, err := png.Decode(bytes.NewReader(iv.imgEncoded))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := back.At(0, 0).RGBA(); r>>8 != 200 || back.Bounds().Dx() != 5 {
		t.Errorf("image content not preserved")
	}

	// A second writer in the same second must not clobber the first file.
	ew2, err := newEventWriter(dir, func() time.Time { return time.Unix(1700000001, 0) })
	if err != nil {
		t.Fatal(err)
	}
	defer ew2.Close()
	if ew2.Path() == ew.Path() || !strings.HasPrefix(filepath.Base(ew2.Path()), base) {
		t.Errorf("second writer path %q", ew2.Path())
	}
}

func TestEventWriterRealClock(t *testing.T) {
	ew, err := NewEventWriter(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before := float64(time.Now().Add(-time.Minute).Unix())
	if err := ew.Scalar("x", 7, 1); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	raw, err := os.ReadFile(ew.Path())
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, raw)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if ev := decodeEvent(t, recs[1]); ev.wallTime < before || ev.step != 7 {
		t.Errorf("event %+v", ev)
	}
}
