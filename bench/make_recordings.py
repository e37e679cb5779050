#!/usr/bin/env python3
"""Builds bench/recordings.json, the reference set: every real recording in the asset cache that has a shipped
reference transcript, with that transcript parsed from the file it ships in.

  LibriVox (5 clips)  audio/librivox/transcription   lines "<s> TEXT </s> (fileid)"   Debian pocketsphinx-testdata
  cards (5 clips)     audio/cards/cards.transcription same format                     Debian pocketsphinx-testdata
  pyannote sample     audio/pyannote/sample.stm       STM lines "file chan speaker start end text";
                                                      utterance texts joined in start-time order   PyPI pyannote-audio 4.0.7
  Mandarin            audio/zh/asr_example.txt        one line (written by scripts/fetch-assets.sh; official
                                                      transcript ID0012W0013 in funasr 1.3.9 sdist data/list/val_text.txt)

zh/mid.wav and zh/long.wav ship without a transcript and are left out.
Deterministic: same cache → byte-identical JSON. Usage: python3 bench/make_recordings.py [--check]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "recordings.json"
CACHE = Path(os.environ.get("EARSHOT_CACHE", str(Path.home() / ".cache" / "earshot")))

SOURCES = {
    "librivox": "Debian bookworm pocketsphinx-testdata 0.8+5prealpha+1-15, "
                "/usr/share/pocketsphinx/test/data/librivox/transcription (LibriVox, Sense and Sensibility ch. 1, public domain)",
    "cards": "Debian bookworm pocketsphinx-testdata 0.8+5prealpha+1-15, /usr/share/pocketsphinx/test/data/cards/cards.transcription",
    "pyannote": "PyPI pyannote-audio 4.0.7 wheel, pyannote/audio/sample/sample.stm (13 timed utterances)",
    "zh": "PyPI funasr 1.3.9 sdist, runtime/funasr_api/asr_example.wav; transcript = ID0012W0013 in data/list/val_text.txt",
}


def sphinx_transcription(path: Path) -> dict[str, str]:
    """'<s> ten of clubs  </s> (001)' → {'001': 'ten of clubs'}."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"(.*)\((\S+)\)", line)
        if not m:
            raise SystemExit(f"{path}: unparsable line {line!r}")
        text = m.group(1).replace("<s>", " ").replace("</s>", " ")
        out[m.group(2)] = " ".join(text.split())
    return out


def stm_utterances(path: Path) -> list[dict]:
    utts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        parts = line.split(maxsplit=5)
        utts.append({"speaker": parts[2], "start": float(parts[3]), "end": float(parts[4]),
                     "text": parts[5].strip() if len(parts) > 5 else ""})
    utts.sort(key=lambda u: (u["start"], u["end"]))
    return utts


def wav_facts(path: Path) -> dict:
    with wave.open(str(path), "rb") as w:
        facts = {"sample_rate": w.getframerate(), "channels": w.getnchannels(),
                 "sample_width_bytes": w.getsampwidth(), "frames": w.getnframes()}
    facts["duration_s"] = round(facts["frames"] / facts["sample_rate"], 4)
    facts["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return facts


def build() -> dict:
    recs = []
    audio = CACHE / "audio"
    lv = sphinx_transcription(audio / "librivox" / "transcription")
    for fid in sorted(lv):
        recs.append({"id": f"librivox/{fid}", "file": f"audio/librivox/{fid}.wav", "language": "en",
                     "group": "librivox", "reference": lv[fid], "reference_source": SOURCES["librivox"]})
    cards = sphinx_transcription(audio / "cards" / "cards.transcription")
    for fid in sorted(cards):
        recs.append({"id": f"cards/{fid}", "file": f"audio/cards/{fid}.wav", "language": "en",
                     "group": "cards", "reference": cards[fid], "reference_source": SOURCES["cards"]})
    utts = stm_utterances(audio / "pyannote" / "sample.stm")
    recs.append({"id": "pyannote/sample", "file": "audio/pyannote/sample.wav", "language": "en",
                 "group": "pyannote", "reference": " ".join(u["text"] for u in utts),
                 "reference_source": SOURCES["pyannote"], "utterances": utts})
    zh = (audio / "zh" / "asr_example.txt").read_text(encoding="utf-8").strip()
    recs.append({"id": "zh/asr_example", "file": "audio/zh/asr_example.wav", "language": "zh",
                 "group": "zh", "reference": zh, "reference_source": SOURCES["zh"]})
    for r in recs:
        r.update(wav_facts(CACHE / r["file"]))
    return {
        "about": "Reference set: real recordings in ${EARSHOT_CACHE:-~/.cache/earshot} (fetched by "
                 "scripts/fetch-assets.sh) with their shipped reference transcripts. Made by bench/make_recordings.py.",
        "recordings": recs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if bench/recordings.json is out of date")
    args = ap.parse_args()
    text = json.dumps(build(), ensure_ascii=False, indent=1) + "\n"
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else "OUT OF DATE", file=sys.stderr)
        sys.exit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(OUT)


if __name__ == "__main__":
    main()
