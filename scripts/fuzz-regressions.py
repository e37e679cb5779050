#!/usr/bin/env python3
"""Writes Fuzz/regressions/: the fuzzers' findings reduced to the smallest input with the same defect
(see Fuzz/regressions/README.md). Run: python3 scripts/fuzz-regressions.py"""
import json, os, struct

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fuzz", "regressions"))
# WAV with a 522 MHz sample rate (FuzzWAV's out-of-memory input, reduced): the resampler to 16 kHz asked for 1.9 GB.
fmt = struct.pack("<HHIIHH", 1, 1, 0x1F1F4000, 0x40, 1, 8)
data = bytes(range(120, 136))
body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
open("wav-rate-522mhz.wav", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)


def zip64(count):
    rec = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, 0, 0)
    loc = struct.pack("<IIQI", 0x07064B50, 0, 0, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return rec + loc + eocd


# ZIP64 end record announcing 2^32 entries in a 98-byte file (FuzzPyTorch: reserveCapacity asked for 51 GB).
open("zip64-entry-count.pt", "wb").write(zip64(1 << 32))
# ... and one above Int.max (the UInt64 → Int conversion trapped).
open("zip64-count-over-int-max.pt", "wb").write(zip64((1 << 64) - 2))
# tokenizer.json with a token id of 10^18 (FuzzTokenizer: the id-indexed vocabulary asked for exabytes), and a negative id.
open("tokenizer-id-1e18.json", "w").write(json.dumps({"model": {"type": "BPE", "vocab": {"a": 1000000000000000000, "b": 0}, "merges": []}}))
open("tokenizer-id-negative.json", "w").write(json.dumps({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}))
# Empty config.yaml (FuzzYAML, LeakSanitizer: FileManager.contents leaks 4 KB on a 0-byte file).
open("empty.yaml", "wb").write(b"")
# An integer key holding 1e300 (Int(Double) trapped).
open("int-1e300.yaml", "w").write("frontend_conf:\n  n_mels: 1e300\n")


def st(t):
    b = t.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


# CT2 model.bin v6 with a float32 tensor of shape [2^31, 2^31]: the element count fits in Int, the byte count overflowed.
m = struct.pack("<I", 6) + st("WhisperSpec") + struct.pack("<II", 3, 1) + st("w") + struct.pack("<BIIBI", 2, 1 << 31, 1 << 31, 0, 0)
open("ct2-byte-count-overflow.bin", "wb").write(m)


# torch zip whose data.pkl has a BINUNICODE8 string of length 2^64-1 (FuzzPyTorch: the UInt64 → Int conversion trapped).
import zipfile
with zipfile.ZipFile("pickle-binunicode8-length.pt", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02\x8d" + b"\xff" * 8 + b".")


# FuzzMultipart input (Content-Type line, then the body) with a 0x8C byte in a part's header name: MultipartKit
# 4.7.1 indexed its 128-entry header-name table with it and trapped (a remote crash of `earshot serve`).
open("multipart-header-name-byte-0x8c.txt", "wb").write(
    b"multipart/form-data; boundary=B\n--B\r\nCo\x8cntent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--B--\r\n")


# torch zip whose data.pkl appends a list to itself through the memo (FuzzPyTorch, LeakSanitizer: the
# self-containing list was a reference cycle ARC never freed). The same with a dict holding itself as a value.
with zipfile.ZipFile("pickle-self-containing-list.pt", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02]q\x00h\x00a.")
with zipfile.ZipFile("pickle-self-containing-dict.pt", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s.")
