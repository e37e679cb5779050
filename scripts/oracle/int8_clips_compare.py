#!/usr/bin/env python3
"""How often Earshot's int8 decodes a 30-s window to the same text as faster-whisper's int8, measured on many
independent windows: the recording is cut into clips of --clip-seconds (< 30 s, so each is one window and no
clip conditions on another), each clip is transcribed greedily at temperature 0 by faster-whisper 1.2.1
(compute_type="int8", 2 threads) and by each Earshot binary given (`transcribe --sequential --temperature 0
--beam-size 1 --precision int8`), and the normalised texts are compared clip by clip.

--ct2-isa AVX512 adds faster-whisper int8 with CT2_FORCE_CPU_ISA=AVX512 as one more "system": how far
CTranslate2 int8 is from itself when only the ISA of its float kernels changes (the noise floor).

Usage (from the repo root):
  ~/.cache/earshot/venv/bin/python scripts/oracle/int8_clips_compare.py ~/.cache/earshot/long/english-10min-seed0.wav \\
      --earshot .build/release/earshot [--earshot OTHER_BINARY] [--model tiny.en] [--ct2-isa AVX512]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import whisper_common as wc  # noqa: E402

MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
FW = r"""
import json, sys
from faster_whisper import WhisperModel
model, paths = sys.argv[1], sys.argv[2:]
m = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=2)
out = []
for p in paths:
    segs, _ = m.transcribe(p, beam_size=1, best_of=1, temperature=0.0, language="en")
    out.append("".join(s.text for s in segs).strip())
print(json.dumps(out))
"""


def faster_whisper(model_dir: Path, clips: list[Path], isa: str | None) -> list[str]:
    import json
    env = dict(os.environ)
    if isa:
        env["CT2_FORCE_CPU_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", FW, str(model_dir), *map(str, clips)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def earshot(binary: str, model_dir: Path, clips: list[Path]) -> list[str]:
    texts = []
    for c in clips:
        out = subprocess.run([binary, "transcribe", str(c), "--model", str(model_dir), "--sequential",
                              "--temperature", "0", "--beam-size", "1", "--precision", "int8", "--language", "en"],
                             capture_output=True, text=True, check=True).stdout
        texts.append(" ".join(out.split()))
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio")
    ap.add_argument("--earshot", action="append", default=[])
    ap.add_argument("--model", default="tiny.en", choices=list(MODELS))
    ap.add_argument("--clip-seconds", type=float, default=29.0)
    ap.add_argument("--ct2-isa")
    args = ap.parse_args()
    import jiwer
    from faster_whisper.audio import decode_audio

    model_dir = wc.cache_dir() / "models" / MODELS[args.model]
    samples = decode_audio(args.audio)
    step = int(args.clip_seconds * 16000)
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i in range(0, len(samples) - 16000, step):  # drop a last piece shorter than 1 s
            path = Path(tmp) / f"clip{i // step:03d}.wav"
            pcm = np.clip(np.round(samples[i:i + step] * 32768), -32768, 32767).astype("<i2")
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(pcm.tobytes())
            clips.append(path)
        reference = faster_whisper(model_dir, clips, None)
        systems = {f"earshot {b}": earshot(b, model_dir, clips) for b in args.earshot}
        if args.ct2_isa:
            systems[f"faster-whisper int8, CT2_FORCE_CPU_ISA={args.ct2_isa}"] = faster_whisper(model_dir, clips,
                                                                                             args.ct2_isa)
    norm = [wc.normalize(t, "en") for t in reference]
    words = sum(len(t.split()) for t in norm)
    print(f"{len(clips)} clips of {args.clip_seconds} s, {args.model}, reference faster-whisper int8 "
          f"(default ISA): {words} words")
    for name, texts in systems.items():
        hyp = [wc.normalize(t, "en") for t in texts]
        same = sum(a == b for a, b in zip(norm, hyp))
        o = jiwer.process_words([t or "<empty>" for t in norm], [t or "<empty>" for t in hyp])
        errors = o.substitutions + o.deletions + o.insertions
        print(f"  {name}: identical text in {same}/{len(clips)} clips; words differing {errors}/{words} "
              f"({errors / max(words, 1) * 100:.2f} %: S{o.substitutions} D{o.deletions} I{o.insertions})")


if __name__ == "__main__":
    main()
