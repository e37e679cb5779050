#!/usr/bin/env python3
"""Word-timestamp oracle for Earshot's cross-attention alignment: runs faster-whisper with
word_timestamps=True on the recordings of the reference set (bench/recordings.json) and writes

  Tests/EarshotWhisperTests/Fixtures/faster-whisper-<model>-words.json
    model  tiny.en (models/whisper-tiny.en, English recordings) | base (models/whisper-base, every recording,
           language detected, plus the Mandarin clip once more with language="zh")

Two decodings per recording, both greedy at a single temperature (beam_size=1, best_of=1, temperature=0.0):
  "timestamps":    faster-whisper's long-form algorithm with timestamp tokens (what Earshot's sequential
                   `transcribe` does); word timings move `seek` to the last word's end.
  "notimestamps":  the same with without_timestamps=True: each window is one segment, as in Earshot's batched
                   pipeline (`transcribeBatch` of one chunk starting at 0 s decodes exactly the first window).
Everything else is faster-whisper 1.2.1's default (condition_on_previous_text=True, vad_filter=False,
prepend/append punctuations, median filter width 7, ...). WhisperModel(path, device="cpu",
compute_type="float32", cpu_threads=2). Times are as faster-whisper reports them (already rounded to 0.01 s
for words); probabilities rounded to 6 digits.

Usage (from the repo root):
  ~/.cache/earshot/venv/bin/python scripts/oracle/whisper_words_oracle.py [--models tiny.en base]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import whisper_common as wc  # noqa: E402

FIXTURES = wc.REPO / "Tests" / "EarshotWhisperTests" / "Fixtures"
MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
GREEDY = {"beam_size": 1, "best_of": 1, "temperature": 0.0, "word_timestamps": True}
DECODINGS = {"timestamps": {}, "notimestamps": {"without_timestamps": True}}


def r6(x):
    return None if x is None else round(float(x), 6)


def run(model, path: Path, language, extra: dict) -> dict:
    segments, info = model.transcribe(str(path), language=language, **GREEDY, **extra)
    segs = []
    for s in segments:
        segs.append({
            "seek": s.seek, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
            "tokens": list(s.tokens), "temperature": s.temperature,
            "words": [{"word": w.word, "start": w.start, "end": w.end, "probability": r6(w.probability)}
                      for w in (s.words or [])],
        })
    return {"language": info.language, "duration_s": round(info.duration, 4), "segments": segs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--out-dir", type=Path, default=FIXTURES)
    args = ap.parse_args()

    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel

    recordings = wc.load_recordings()
    for model_name in args.models:
        model_dir = wc.cache_dir() / "models" / MODELS[model_name]
        model = WhisperModel(str(model_dir), device="cpu", compute_type="float32", cpu_threads=2)
        entries = []
        for rec in recordings:
            languages = [None]
            if model.model.is_multilingual:
                if rec["language"] != "en":
                    languages.append(rec["language"])
            elif rec["language"] != "en":
                continue
            for language in languages:
                entry = {"id": rec["id"], "file": rec["file"], "language_option": language}
                for name, extra in DECODINGS.items():
                    entry[name] = run(model, wc.cache_dir() / rec["file"], language, extra)
                entries.append(entry)
                words = sum(len(s["words"]) for s in entry["timestamps"]["segments"])
                print(f"{model_name:8s} {rec['id']:52s} lang={language or 'auto'} words={words}", file=sys.stderr)
        fixture = {
            "about": "faster-whisper word_timestamps=True oracle for Earshot's word alignment. Made by "
                     "scripts/oracle/whisper_words_oracle.py; see Tests/EarshotWhisperTests/Fixtures/MANIFEST.md.",
            "command": f"python scripts/oracle/whisper_words_oracle.py --models {model_name}",
            "faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
            "model": model_name, "model_dir": f"models/{MODELS[model_name]}", "compute_type": "float32",
            "transcribe_kwargs": GREEDY, "decodings": DECODINGS, "recordings": entries,
        }
        out = args.out_dir / f"faster-whisper-{model_name}-words.json"
        out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out} ({out.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
