#!/usr/bin/env python3
"""Oracle for Earshot's Whisper: runs faster-whisper on every recording of the reference set
(bench/recordings.json) and writes one JSON fixture per (model, decoding):

  Tests/EarshotWhisperTests/Fixtures/faster-whisper-<model>-<decoding>.json
    model    tiny.en (models/whisper-tiny.en) | base (models/whisper-base, multilingual)
    decoding greedy: beam_size=1, best_of=1, temperature=0.0 (a single temperature: no fallback)
             beam5:  beam_size=5, i.e. faster-whisper's transcribe() defaults (best_of=5, temperature fallback
                     0.0,0.2,...,1.0); any fallback would show in the segment's "temperature"
  Everything else is faster-whisper 1.2.1's default (condition_on_previous_text=True, vad_filter=False,
  without_timestamps=False, word_timestamps=False, suppress_blank=True, suppress_tokens=[-1], ...); the
  resolved options are written into each fixture ("transcription_options").
  WhisperModel(path, device="cpu", compute_type="float32", cpu_threads=2, num_workers=1); with
  --compute-type int8 the same with compute_type="int8" (CTranslate2 quantizes the fp16 checkpoint at load), written
  to faster-whisper-<model>-<decoding>-int8.json.
  Audio is passed as the file path (faster-whisper decodes it with PyAV to s16 16 kHz mono, / 32768).

tiny.en runs on the English recordings; base runs on all of them with language detection, and once more on the
Mandarin clip with language="zh" forced (entry "language_option": "zh").

Usage (from the repo root, with the venv of scripts/setup-venv.sh):
  ~/.cache/earshot/venv/bin/python scripts/oracle/whisper_oracle.py [--models tiny.en base] [--decodings greedy beam5]
      [--compute-type float32|int8]
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import whisper_common as wc  # noqa: E402

FIXTURES = wc.REPO / "Tests" / "EarshotWhisperTests" / "Fixtures"
MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
DECODINGS = {
    "greedy": {"beam_size": 1, "best_of": 1, "temperature": 0.0},
    "beam5": {"beam_size": 5},
}
COMPUTE_TYPES = ("float32", "int8")
CPU_THREADS = 2


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def r6(x):
    return None if x is None else round(float(x), 6)


def run_one(model, tokenizer_cls, rec: dict, kwargs: dict, language_option):
    path = wc.cache_dir() / rec["file"]
    segments, info = model.transcribe(str(path), language=language_option, **kwargs)
    segs = []
    for s in segments:  # the generator does the work
        segs.append({
            "id": s.id, "seek": s.seek, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
            "tokens": list(s.tokens), "temperature": s.temperature, "avg_logprob": r6(s.avg_logprob),
            "compression_ratio": r6(s.compression_ratio), "no_speech_prob": r6(s.no_speech_prob),
        })
    text = "".join(s["text"] for s in segs).strip()
    tok = tokenizer_cls(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=info.language)
    # WER/CER in the reference language (a Mandarin clip transcribed as English still counts as Mandarin).
    er = wc.error_rate(rec["reference"], text, rec["language"])
    entry = {
        "id": rec["id"], "file": rec["file"], "language_option": language_option,
        "language": info.language, "language_probability": r6(info.language_probability),
        "duration_s": round(info.duration, 4), "sot_sequence": tok.sot_sequence,
        "text": text, "segments": segs,
        "reference": rec["reference"], "reference_language": rec["language"],
        "reference_normalised": er["reference_normalised"], "hypothesis_normalised": er["hypothesis_normalised"],
        "metric": er["metric"], "wer": er["value"] if er["metric"] == "wer" else None,
        "cer": er["value"] if er["metric"] == "cer" else None,
    }
    return entry, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--decodings", nargs="+", default=list(DECODINGS), choices=list(DECODINGS))
    ap.add_argument("--out-dir", type=Path, default=FIXTURES)
    ap.add_argument("--compute-type", default="float32", choices=COMPUTE_TYPES)
    args = ap.parse_args()

    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    ctranslate2.set_random_seed(0)  # only matters if beam5's temperature fallback ever samples
    recordings = wc.load_recordings()
    for model_name in args.models:
        model_dir = wc.cache_dir() / "models" / MODELS[model_name]
        model = WhisperModel(str(model_dir), device="cpu", compute_type=args.compute_type, cpu_threads=CPU_THREADS)
        model_sha = sha256(model_dir / "model.bin")
        for decoding in args.decodings:
            kwargs = DECODINGS[decoding]
            jobs = []
            for rec in recordings:
                if model.model.is_multilingual:
                    jobs.append((rec, None))
                    if rec["language"] != "en":
                        jobs.append((rec, rec["language"]))
                elif rec["language"] == "en":
                    jobs.append((rec, None))
            entries, options = [], None
            for rec, lang in jobs:
                entry, info = run_one(model, Tokenizer, rec, kwargs, lang)
                entries.append(entry)
                opts = dataclasses.asdict(info.transcription_options)
                opts.pop("multilingual", None)
                if options is None:
                    options = opts
                elif opts != options:
                    raise SystemExit(f"transcription options changed between recordings: {opts} vs {options}")
                shown = entry["wer"] if entry["wer"] is not None else entry["cer"]
                print(f"{model_name:8s} {decoding:6s} {rec['id']:52s} lang={lang or 'auto'}->{entry['language']} "
                      f"{entry['metric']}={shown:.3f} {entry['text'][:70]!r}", file=sys.stderr)
            en = [e for e in entries if e["metric"] == "wer"]
            fixture = {
                "about": "faster-whisper oracle output for Earshot's Whisper tests. Made by "
                         "scripts/oracle/whisper_oracle.py; see Tests/EarshotWhisperTests/Fixtures/MANIFEST.md.",
                "command": f"{Path(sys.executable).name} scripts/oracle/whisper_oracle.py --models {model_name} "
                           f"--decodings {decoding}" + ("" if args.compute_type == "float32"
                                                        else f" --compute-type {args.compute_type}"),
                "faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
                "model": model_name, "model_dir": f"models/{MODELS[model_name]}", "model_bin_sha256": model_sha,
                "device": "cpu", "compute_type": args.compute_type, "cpu_threads": CPU_THREADS,
                "decoding": decoding, "transcribe_kwargs": kwargs, "transcription_options": options,
                "vad_filter": False,
                "normaliser": "English: openai-whisper 20250625 EnglishTextNormalizer on reference and hypothesis, "
                              "then jiwer 4.0 wer. Mandarin: BasicTextNormalizer, whitespace removed, jiwer cer.",
                "corpus_wer_en": round(wc.wer([e["reference_normalised"] for e in en],
                                              [e["hypothesis_normalised"] for e in en]), 6),
                "recordings": entries,
            }
            for e in entries:
                for k in ("wer", "cer"):
                    if e[k] is not None:
                        e[k] = round(e[k], 6)
            suffix = "" if args.compute_type == "float32" else f"-{args.compute_type}"
            out = args.out_dir / f"faster-whisper-{model_name}-{decoding}{suffix}.json"
            out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {out} ({out.stat().st_size} bytes), corpus WER (en) {fixture['corpus_wer_en']:.4f}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
