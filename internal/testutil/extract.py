#!/usr/bin/env python3
"""Copies selected tensors, byte for byte, from the shared NVAE parity fixtures
(safetensors, see the fixtures README) into one small safetensors file.

usage: extract.py OUT.safetensors [--meta KEY=SRC:METAKEY ...] SRC.safetensors:KEY[=NEWNAME] ...
"""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    return hdr, raw[8 + n:]


def main():
    out = sys.argv[1]
    cache = {}
    entries, meta = [], {}
    args = sys.argv[2:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--meta":
            key, src = args[i + 1].split("=", 1)
            path, mkey = src.rsplit(":", 1)
            hdr, _ = cache.setdefault(path, read(path))
            meta[key] = hdr["__metadata__"][mkey]
            i += 2
            continue
        path, key = a.rsplit(":", 1)
        new = key
        if "=" in key:
            key, new = key.split("=", 1)
        hdr, data = cache.setdefault(path, read(path))
        e = hdr[key]
        b, en = e["data_offsets"]
        entries.append((new, e["dtype"], e["shape"], data[b:en]))
        i += 1
    header, off = {}, 0
    for name, dt, shape, blob in entries:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(blob)]}
        off += len(blob)
    meta["keys_in_order"] = json.dumps([e[0] for e in entries])
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for e in entries:
            f.write(e[3])


if __name__ == "__main__":
    main()
