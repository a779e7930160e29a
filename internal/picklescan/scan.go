// Package picklescan checks a pickle stream's length fields against the bytes that
// are really there before it is handed to an unpickler.
//
// The unpickler we use (gopickle) allocates the buffer for a length-prefixed
// argument (BINBYTES8, BINUNICODE8, FRAME, …) before reading it, so a corrupt or
// hostile length of 2⁶⁰ is an impossible allocation, and a negative one a panic,
// whatever the file's size. Check walks the opcodes the way an unpickler consumes
// them and refuses any length that runs past the end of the data, so that every
// allocation is bounded by the input's actual size.
package picklescan

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// argument layouts of the opcodes
const (
	argNone  = iota
	argFixed // n bytes
	argLine  // up to and including a newline
	argLine2 // two lines (GLOBAL, INST)
	argLen1  // 1-byte length, then that many bytes
	argLen4  // 4-byte little-endian length (signed for BINSTRING and LONG4), then the bytes
	argLen8  // 8-byte little-endian length, then the bytes (FRAME: the frame's opcodes follow)
)

type opInfo struct {
	kind   int
	n      int    // bytes of an argFixed argument
	signed bool   // argLen4: the length is an int32
	name   string // for error messages
}

var ops = map[byte]opInfo{}

func init() {
	for _, c := range []byte("(.012NRbaed}]lost)u\x85\x86\x87\x88\x89\x81\x92oQ\x8f\x90\x91\x93\x94\x97\x98") {
		ops[c] = opInfo{kind: argNone}
	}
	for c, n := range map[byte]int{'K': 1, 'h': 1, 'q': 1, 0x80: 1, 0x82: 1, 'M': 2, 0x83: 2, 'J': 4, 'j': 4, 'r': 4, 0x84: 4, 'G': 8} {
		ops[c] = opInfo{kind: argFixed, n: n}
	}
	for _, c := range "ILFSVPgp" {
		ops[byte(c)] = opInfo{kind: argLine}
	}
	ops['c'] = opInfo{kind: argLine2}
	ops['i'] = opInfo{kind: argLine2}
	for c, name := range map[byte]string{'U': "SHORT_BINSTRING", 'C': "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8a: "LONG1"} {
		ops[c] = opInfo{kind: argLen1, name: name}
	}
	ops['T'] = opInfo{kind: argLen4, signed: true, name: "BINSTRING"}
	ops[0x8b] = opInfo{kind: argLen4, signed: true, name: "LONG4"}
	ops['X'] = opInfo{kind: argLen4, name: "BINUNICODE"}
	ops['B'] = opInfo{kind: argLen4, name: "BINBYTES"}
	ops[0x8d] = opInfo{kind: argLen8, name: "BINUNICODE8"}
	ops[0x8e] = opInfo{kind: argLen8, name: "BINBYTES8"}
	ops[0x96] = opInfo{kind: argLen8, name: "BYTEARRAY8"}
	ops[0x95] = opInfo{kind: argLen8, name: "FRAME"}
}

// Check walks the pickle in data up to its STOP opcode and returns an error naming
// the offset of the first opcode that is unknown, is cut short by the end of the
// data, or announces a length larger than the bytes left. A nil error means every
// length field fits in data; it says nothing else about the pickle's validity.
func Check(data []byte) error {
	for pos := 0; ; {
		if pos >= len(data) {
			return fmt.Errorf("pickle ends at byte %d without its STOP opcode", len(data))
		}
		op, at := data[pos], pos
		pos++
		info, ok := ops[op]
		if !ok {
			return fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, at)
		}
		left := int64(len(data) - pos)
		var n int64 // bytes of argument that follow
		switch info.kind {
		case argNone:
			if op == '.' {
				return nil
			}
		case argFixed:
			n = int64(info.n)
		case argLine, argLine2:
			lines := 1
			if info.kind == argLine2 {
				lines = 2
			}
			for range lines {
				i := bytes.IndexByte(data[pos:], '\n')
				if i < 0 {
					return fmt.Errorf("pickle opcode %q at byte %d: its text argument has no newline", op, at)
				}
				pos += i + 1
			}
			continue
		case argLen1, argLen4, argLen8:
			w := map[int]int64{argLen1: 1, argLen4: 4, argLen8: 8}[info.kind]
			if left < w {
				return fmt.Errorf("pickle %s at byte %d: cut short", info.name, at)
			}
			var length int64
			switch info.kind {
			case argLen1:
				length = int64(data[pos])
			case argLen4:
				u := binary.LittleEndian.Uint32(data[pos:])
				length = int64(u)
				if info.signed {
					length = int64(int32(u))
				}
			default:
				u := binary.LittleEndian.Uint64(data[pos:])
				if u > uint64(left) {
					return fmt.Errorf("pickle %s at byte %d announces %d bytes, only %d remain", info.name, at, u, left-w)
				}
				length = int64(u)
			}
			if length < 0 {
				return fmt.Errorf("pickle %s at byte %d has a negative length %d", info.name, at, length)
			}
			pos += int(w)
			left -= w
			if length > left {
				return fmt.Errorf("pickle %s at byte %d announces %d bytes, only %d remain", info.name, at, length, left)
			}
			if op == 0x95 {
				continue // a frame's content is the opcodes that follow
			}
			n = length
		}
		if n > left {
			return fmt.Errorf("pickle opcode 0x%02x at byte %d: cut short", op, at)
		}
		pos += int(n)
	}
}
