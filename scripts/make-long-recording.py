#!/usr/bin/env python3
"""Builds a long English test recording by concatenating the real clips of the reference set
(bench/recordings.json: the 5 LibriVox clips, the 30 s pyannote call and the 5 cards clips), with short
silences between them, to any length, together with its reference transcript.

  OUT.wav          16 kHz mono 16-bit PCM; whole clips are added until the length reaches --minutes
                   (so it is at least that long and ends on a clip boundary plus one gap of silence)
  OUT.txt          the reference transcript: one line per clip, in order (join with spaces to score it)
  OUT.clips.tsv    start_s, end_s, clip id and reference of every clip, for per-clip scoring

Order: the 11 clips are played in cycles; each cycle's order is a shuffle with random.Random(seed + cycle),
and each gap is drawn from the same generator (--gap-min..--gap-max seconds, rounded to 10 ms), so the output
depends only on the arguments and the clip files (byte-identical on every run).
Streaming: the WAV is written clip by clip (one short clip in memory at a time) and the RIFF sizes are
patched at the end by the wave module, so 2 h or 10 h work in constant memory (RIFF caps at ~37 h of audio).

Usage: python3 scripts/make-long-recording.py --minutes 10 [--out PATH] [--seed 0]
  default OUT: ${EARSHOT_CACHE:-~/.cache/earshot}/long/english-<minutes>min-seed<seed>.wav
  Prints OUT.wav's path and its duration.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATE = 16000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap-min", type=float, default=0.4, help="shortest silence between clips, seconds")
    ap.add_argument("--gap-max", type=float, default=1.2, help="longest silence between clips, seconds")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT and its transcript exist")
    args = ap.parse_args()

    cache = Path(os.environ.get("EARSHOT_CACHE", str(Path.home() / ".cache" / "earshot")))
    mins = f"{args.minutes:g}"
    out = args.out or cache / "long" / f"english-{mins}min-seed{args.seed}.wav"
    txt, tsv = out.with_suffix(".txt"), out.with_suffix(".clips.tsv")
    target = int(round(args.minutes * 60 * RATE))
    if target <= 0:
        raise SystemExit("--minutes must be > 0")
    if target * 2 > 0xFFFFFFFF - 64:
        raise SystemExit("too long for a RIFF WAV (~37 h max)")

    with open(REPO / "bench" / "recordings.json", encoding="utf-8") as f:
        clips = [r for r in json.load(f)["recordings"]
                 if r["language"] == "en" and r["group"] in ("librivox", "pyannote", "cards")]
    if not clips:
        raise SystemExit("no English clips in bench/recordings.json")

    if out.is_file() and txt.is_file() and tsv.is_file() and not args.force:
        with wave.open(str(out), "rb") as w:
            if w.getnframes() >= target:
                print(out)
                print(f"{w.getnframes() / RATE:.2f} s (kept; --force rebuilds)", file=sys.stderr)
                return

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    frames = 0
    cycle = 0
    with wave.open(str(tmp), "wb") as w, open(txt.with_name(txt.name + ".partial"), "w", encoding="utf-8") as t, \
            open(tsv.with_name(tsv.name + ".partial"), "w", encoding="utf-8") as c:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        c.write("start_s\tend_s\tid\treference\n")
        while frames < target:
            rng = random.Random(args.seed * 1_000_003 + cycle)
            order = list(range(len(clips)))
            rng.shuffle(order)
            for i in order:
                if frames >= target:
                    break
                clip = clips[i]
                with wave.open(str(cache / clip["file"]), "rb") as r:
                    if (r.getframerate(), r.getnchannels(), r.getsampwidth()) != (RATE, 1, 2):
                        raise SystemExit(f"{clip['file']}: not 16 kHz mono s16")
                    n = r.getnframes()
                    pcm = r.readframes(n)
                start = frames
                w.writeframes(pcm)
                frames += n
                gap = int(round(rng.uniform(args.gap_min, args.gap_max) * 100)) * (RATE // 100)
                w.writeframes(b"\x00\x00" * gap)
                frames += gap
                t.write(clip["reference"] + "\n")
                c.write(f"{start / RATE:.4f}\t{(start + n) / RATE:.4f}\t{clip['id']}\t{clip['reference']}\n")
            cycle += 1
    os.replace(txt.with_name(txt.name + ".partial"), txt)
    os.replace(tsv.with_name(tsv.name + ".partial"), tsv)
    os.replace(tmp, out)
    print(out)
    print(f"{frames / RATE:.2f} s, {cycle} cycles of {len(clips)} clips", file=sys.stderr)


if __name__ == "__main__":
    main()
