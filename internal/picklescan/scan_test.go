package picklescan

import (
	"encoding/binary"
	"strings"
	"testing"
)

func le4(n int32) []byte  { return binary.LittleEndian.AppendUint32(nil, uint32(n)) }
func le8(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string // "" for no error
	}{
		{"protocol 2 dict", cat([]byte{0x80, 2, '}', 'q', 0, '(', 'X'}, le4(1), []byte("a"), []byte{'K', 7, 'u', '.'}), ""},
		{"global and lines", []byte("cmod\nname\nI12\n(lp0\n."), ""},
		{"protocol 2 opcodes >= 0x80", []byte{0x80, 2, ')', 'N', 0x85, 'N', 'N', 0x86, 0x88, 0x89, 0x87, '.'}, ""},
		{"frame", cat([]byte{0x80, 4, 0x95}, le8(3), []byte{0x8c, 1, 'x', '.'}), ""},
		{"bytes8 fits", cat([]byte{0x8e}, le8(2), []byte("ab."), nil), ""},
		{"empty", nil, "without its STOP"},
		{"no stop", []byte{0x80, 2, '}'}, "without its STOP"},
		{"unknown opcode", []byte{0x80, 2, 0xff, '.'}, "unknown pickle opcode 0xff at byte 2"},
		{"huge bytes8", cat([]byte{0x8e}, le8(1<<62), []byte(".")), "BINBYTES8 at byte 0 announces 4611686018427387904 bytes"},
		{"huge frame", cat([]byte{0x80, 4, 0x95}, le8(^uint64(0)), []byte(".")), "FRAME at byte 2"},
		{"negative binstring", cat([]byte{'T'}, le4(-5), []byte(".")), "negative length -5"},
		{"negative long4", cat([]byte{0x8b}, le4(-1), []byte(".")), "negative length"},
		{"binbytes past the end", cat([]byte{'B'}, le4(100), []byte("abc.")), "announces 100 bytes, only 4 remain"},
		{"short length field", []byte{'X', 1, 0}, "cut short"},
		{"short fixed argument", []byte{'J', 1, 2}, "cut short"},
		{"line without newline", []byte("cmod\nname"), "no newline"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.data)
			if c.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}
