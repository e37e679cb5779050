#!/usr/bin/env python3
"""Regenerates Fuzz/corpus/<target>/ (the committed seed corpora) from the cached assets in ~/.cache/earshot.

Seeds are small cuts of real files: 0.05 s of a LibriVox recording re-encoded in every WAV layout the reader
decodes; the header and first variables of whisper-tiny.en's model.bin (shapes shrunk) in binary versions
6, 3 and 1; torch.save of a few of fsmn-vad's real tensors (zip format, and the legacy format); FunASR's
fsmn-vad config.yaml; tokenizer.json of tiny.en cut to its first tokens and merges; multipart uploads laid
out as the openai SDK (httpx) and curl send them, and FunASR websocket conversations as funasr_wss_client.py
sends them (its configuration message, PCM frames, the end message).
Run: python3 scripts/fuzz-seeds.py [wire] (PyTorch seeds need ~/.cache/earshot/venv-funasr, see setup-paraformer-oracle.sh).
"""
import json, os, struct, subprocess, sys, wave

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fuzz", "corpus")
CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))


def out(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- WAV: one short real excerpt in each layout ----
def wav_seeds():
    with wave.open(os.path.join(CACHE, "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")) as w:
        rate, ch = w.getframerate(), w.getnchannels()
        assert w.getsampwidth() == 2
        w.setpos(rate)  # skip the first second (silence)
        pcm = w.readframes(rate // 20)
    samples = [s[0] / 32768 for s in struct.iter_unpack("<h", pcm)][::ch]

    def encode(fmt, bits, big=False):
        e = ">" if big else "<"
        if fmt == 3:
            return b"".join(struct.pack(e + ("f" if bits == 32 else "d"), s) for s in samples)
        if bits == 8:
            return bytes(int(s * 127) + 128 for s in samples)
        scale = (1 << (bits - 1)) - 1
        ints = [int(s * scale) for s in samples]
        if bits == 24:
            return b"".join(struct.pack(e + "i", v)[1:] if big else struct.pack("<i", v)[:3] for v in ints)
        return b"".join(struct.pack(e + ("h" if bits == 16 else "i"), v) for v in ints)

    def riff(fmt, bits, rate, channels=1, big=False, extensible=False, rf64=False, extra=b""):
        e = ">" if big else "<"
        data = encode(fmt, bits, big)
        if channels == 2:
            w = bits // 8
            data = b"".join(data[i:i + w] * 2 for i in range(0, len(data), w))
        block = channels * bits // 8
        tag = 0xFFFE if extensible else fmt
        fmtbody = struct.pack(e + "HHIIHH", tag, channels, rate, rate * block, block, bits)
        if extensible:
            fmtbody += struct.pack(e + "HHI", 22, bits, 0) + struct.pack(e + "H", fmt) + bytes.fromhex("000000001000800000aa00389b71")
        chunks = b"fmt " + struct.pack(e + "I", len(fmtbody)) + fmtbody + extra
        if rf64:
            ds64 = struct.pack("<QQQI", 0, len(data), len(data) // block, 0)
            body = b"WAVE" + b"ds64" + struct.pack("<I", len(ds64)) + ds64 + chunks + b"data" + struct.pack("<I", 0xFFFFFFFF) + data
            return b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body
        body = b"WAVE" + chunks + b"data" + struct.pack(e + "I", len(data)) + data
        return (b"RIFX" if big else b"RIFF") + struct.pack(e + "I", len(body)) + body

    out("wav", "pcm16-16k.wav", riff(1, 16, 16000))
    out("wav", "pcm8-8k.wav", riff(1, 8, 8000))
    out("wav", "pcm24-44k.wav", riff(1, 24, 44100))
    out("wav", "pcm32-48k-stereo.wav", riff(1, 32, 48000, channels=2))
    out("wav", "float32-22k.wav", riff(3, 32, 22050))
    out("wav", "float64-16k.wav", riff(3, 64, 16000))
    out("wav", "extensible-float32.wav", riff(3, 32, 16000, extensible=True))
    out("wav", "rifx-pcm16.wav", riff(1, 16, 16000, big=True))
    out("wav", "rifx-pcm24.wav", riff(1, 24, 11025, big=True))
    out("wav", "rf64-pcm16.wav", riff(1, 16, 32000, rf64=True))
    out("wav", "list-chunk-odd.wav", riff(1, 16, 16000, extra=b"LIST" + struct.pack("<I", 5) + b"INFO\x00\x00"))
    # The resampler target: u32 input rate, u32 output rate, u32 chunk, then float32 samples.
    f32 = b"".join(struct.pack("<f", s) for s in samples)
    for a, b, c in [(44100, 16000, 512), (8000, 16000, 100), (48000, 16000, 4096), (16000, 16000, 7), (11025, 22050, 33)]:
        out("resampler", f"{a}-{b}.bin", struct.pack("<III", a - 1, b - 1, c - 1) + f32[: 4 * 400])


# ---- CTranslate2 model.bin: whisper-tiny.en's header and first variables, shapes shrunk ----
def ct2_seeds():
    path = os.path.join(CACHE, "models/whisper-tiny.en/model.bin")
    with open(path, "rb") as f:
        buf = f.read()
    o = 0
    def u(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, buf, o); o += struct.calcsize("<" + fmt); return v[0]
    def s():
        n = u("H"); nonlocal o; t = buf[o:o + n - 1].decode(); o += n; return t
    version = u("I"); spec = s(); revision = u("I"); count = u("I")
    variables = []
    for _ in range(min(count, 6)):
        name = s(); rank = u("B"); dims = [u("I") for _ in range(rank)]
        dtype = u("B"); nbytes = u("I"); data = buf[o:o + min(nbytes, 64)]; o += nbytes
        variables.append((name, dims, dtype, data))
    width = {0: 4, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2}

    def st(t):
        b = t.encode() + b"\0"; return struct.pack("<H", len(b)) + b

    def model(v):
        b = struct.pack("<I", v)
        if v >= 2:
            b += st(spec) + struct.pack("<I", revision)
        b += struct.pack("<I", len(variables))
        for name, dims, dtype, data in variables:
            small = [min(d, 2) for d in dims]
            n = 1
            for d in small: n *= d
            b += st(name) + struct.pack("<B", len(small)) + b"".join(struct.pack("<I", d) for d in small)
            w = width[dtype] if v >= 4 else (4 if dtype in (0, 3) else (2 if dtype in (2, 4, 5) else 1))
            b += struct.pack("<BI", dtype, n * w) if v >= 4 else struct.pack("<BI", w, n)
            b += (data * (n * w // max(1, len(data)) + 1))[: n * w]
        if v >= 3:
            b += struct.pack("<I", 1) + st("alias/" + variables[0][0]) + st(variables[0][0])
        return b
    for v in (6, 5, 3, 2, 1):
        out("ct2", f"tiny-en-head-v{v}.bin", model(v))


# ---- PyTorch: a few real fsmn-vad tensors, saved by torch itself ----
def torch_seeds():
    py = os.path.join(CACHE, "venv-funasr/bin/python")
    if not os.path.exists(py):
        print("skipping PyTorch seeds: no", py, file=sys.stderr); return
    code = r'''
import sys, torch, os
sd = torch.load(sys.argv[1], map_location="cpu")
keys = [k for k in sd if sd[k].dim() > 0][:3]
small = {k: sd[k].flatten()[:6].reshape(2, 3).clone() for k in keys}
small["scalar"] = torch.tensor(1.5)
small["half"] = torch.arange(4, dtype=torch.float16)
small["strided"] = torch.arange(12.0).reshape(3, 4)[:, 1:3]
d = sys.argv[2]
torch.save(small, os.path.join(d, "fsmn-vad-cut.pt"))
torch.save(small, os.path.join(d, "fsmn-vad-cut-legacy.pt"), _use_new_zipfile_serialization=False)
torch.save({"state_dict": small, "epoch": 3}, os.path.join(d, "nested.pt"))
'''
    d = os.path.join(ROOT, "pytorch"); os.makedirs(d, exist_ok=True)
    subprocess.run([py, "-c", code, os.path.join(CACHE, "models/fsmn-vad/model.pt"), d], check=True)


def text_seeds():
    with open(os.path.join(CACHE, "models/fsmn-vad/config.yaml"), "rb") as f:
        out("yaml", "fsmn-vad-config.yaml", f.read())
    out("yaml", "lists-and-anchors.yaml", b"frontend_conf:\n  n_mels: 80\n  lfr_m: [1, 2, 3]\nbase: &b {x: 1.5e3}\nmodel_conf: *b\nencoder_conf: {output_size: !!int 512}\n")
    with open(os.path.join(CACHE, "models/whisper-tiny.en/tokenizer.json")) as f:
        t = json.load(f)
    keep = dict(list(t["model"]["vocab"].items())[:300])
    t["model"]["vocab"] = keep
    t["model"]["merges"] = t["model"]["merges"][:100]
    # Every special token but the timestamps (the tokenizer needs <|startoftranscript|> … to load).
    t["added_tokens"] = [a for a in t["added_tokens"] if not a["content"][2:3].isdigit()]
    out("tokenizer", "tiny-en-cut.json", json.dumps(t).encode())
    pairs = [m.split(" ") if isinstance(m, str) else m for m in t["model"]["merges"]]
    t["model"]["merges"] = pairs
    out("tokenizer", "tiny-en-cut-pair-merges.json", json.dumps(t).encode())


# ---- the server's parsers: multipart uploads and FunASR websocket frames ----
def wire_seeds():
    with open(os.path.join(ROOT, "wav", "pcm16-16k.wav"), "rb") as f:
        audio = f.read()

    def form(boundary, parts, closing=True):
        body = b""
        for headers, payload in parts:
            body += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + payload + b"\r\n"
        return body + (b"--" + boundary + b"--\r\n" if closing else b"")

    # The first line is the Content-Type header; the rest is the body (Fuzz/Sources/FuzzMultipart).
    httpx_boundary = b"9a8f3a6c0f2e4d7bb1f0d2c4e6a8b0c2"   # httpx: 32 hex digits, unquoted
    fields = [([b'Content-Disposition: form-data; name="model"'], b"whisper-1"),
              ([b'Content-Disposition: form-data; name="response_format"'], b"verbose_json"),
              ([b'Content-Disposition: form-data; name="timestamp_granularities[]"'], b"word"),
              ([b'Content-Disposition: form-data; name="timestamp_granularities[]"'], b"segment")]
    upload = ([b'Content-Disposition: form-data; name="file"; filename="clip.wav"', b"Content-Type: audio/wav"], audio)
    out("multipart", "httpx-verbose-json.txt",
        b"multipart/form-data; boundary=" + httpx_boundary + b"\n" + form(httpx_boundary, fields + [upload]))
    curl_boundary = b"------------------------d74496d66958873e"   # curl -F: dashes and 16 hex digits
    out("multipart", "curl-file-first.txt",
        b"multipart/form-data; boundary=" + curl_boundary + b"\n"
        + form(curl_boundary, [upload, ([b'Content-Disposition: form-data; name="language"'], b"en")]))
    quoted = b"earshot boundary"
    out("multipart", "quoted-boundary-escaped-name.txt",
        b'multipart/form-data; boundary="' + quoted + b'"\n'
        + form(quoted, [([b'Content-Disposition: form-data; name="file"; filename="a \\"b\\".wav"'], audio[:200]),
                        ([b'Content-Disposition: form-data; name="prompt"'], "Ünïcode prompt".encode())]))
    out("multipart", "cut-short.txt",
        b"multipart/form-data; boundary=" + httpx_boundary + b"\n" + form(httpx_boundary, [upload], closing=False)[:300])

    def frame(kind, payload):   # kind 0 = text, 1 = binary; then u16 length (Fuzz/Sources/FuzzFunASRMessages)
        return bytes([kind]) + struct.pack("<H", len(payload)) + payload

    config = {"mode": "2pass", "chunk_size": [5, 10, 5], "chunk_interval": 10, "encoder_chunk_look_back": 4,
              "decoder_chunk_look_back": 0, "audio_fs": 16000, "wav_name": "demo", "wav_format": "pcm",
              "is_speaking": True, "hotwords": "", "itn": True}
    pcm = audio[44:44 + 1601]   # an odd number of bytes: the last one waits for its pair
    out("funasr", "client-2pass.bin", frame(0, json.dumps(config).encode()) + frame(1, pcm[:801]) + frame(1, pcm[801:])
        + frame(0, json.dumps({"is_speaking": False}).encode()))
    offline = dict(config, mode="offline", wav_format="wav", audio_fs=8000, wav_name="会议",
                   hotwords=json.dumps({"阿里巴巴": 20, "hello world": 40}), svs_lang="auto")
    out("funasr", "client-offline-hotwords.bin", frame(0, json.dumps(offline, ensure_ascii=False).encode())
        + frame(1, audio[:512]) + frame(0, b'{"is_end": true}'))
    out("funasr", "bad-mode.bin", frame(0, b'{"mode": "streaming", "audio_fs": "16000"}') + frame(1, b"\x01"))


if __name__ == "__main__":
    if sys.argv[1:] == ["wire"]:
        wire_seeds()
    else:
        wav_seeds(); ct2_seeds(); text_seeds(); torch_seeds(); wire_seeds()
    for d in sorted(os.listdir(ROOT)):
        files = os.listdir(os.path.join(ROOT, d))
        print(d, len(files), "files,", sum(os.path.getsize(os.path.join(ROOT, d, x)) for x in files), "bytes")
