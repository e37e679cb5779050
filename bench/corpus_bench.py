#!/usr/bin/env python3
"""Corpus throughput: one `earshot transcribe --manifest` run against the same files done one at a time.

Builds a corpus from the real recordings in ~/.cache/earshot (the five card recordings and the five LibriVox
clips): --short files of one clip each (each at its own gain, so no two files are byte-identical) and --long
files of --long-minutes made of clips separated by 0.3–3 s pauses, in a tree with repeated basenames. Then
runs, each as its own child process whose peak RSS is os.wait4's ru_maxrss (as bench/run.py measures):

  manifest   earshot transcribe --manifest DIR --output-dir OUT --memory-limit L   (models load once; windows
             of different files share batches)
  per-file   earshot transcribe FILE --output-dir OUT, once per file (the loop users write today; wall is the
             sum, peak RSS the largest child's)
  fw         faster-whisper BatchedInferencePipeline(batch_size=--fw-batch) looping over the files in one
             Python process (the model loads once; this script re-run as --fw-child)

and prints wall seconds, audio seconds, × real time and peak RSS per system, the manifest run's throughput
relative to the others (issue 12's acceptance: ≥ 1.3× per-file, ≥ fw), whether its peak RSS stayed within
--memory-limit, and how many files' text the manifest and per-file runs agree on. Results also go to --out.

Wall-clock numbers mean something only on a quiet machine: the lead runs the full size
(`--short 500 --long 20`); a shared machine can only check that it works (`--short 6 --long 1 --long-minutes 0.5`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("EARSHOT_CACHE") or Path.home() / ".cache/earshot")
VENV_PY = CACHE / "venv/bin/python"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def clips() -> list[Path]:
    found = sorted((CACHE / "audio/cards").glob("*.wav")) + sorted((CACHE / "audio/librivox").glob("*.wav"))
    if not found:
        raise SystemExit(f"no recordings under {CACHE}/audio: run scripts/fetch-assets.sh")
    return found


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 16000):
            raise SystemExit(f"{path}: expected 16-kHz mono 16-bit")
        return w.readframes(w.getnframes())


def write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)


def scaled(pcm: bytes, gain: float) -> bytes:
    n = len(pcm) // 2
    samples = struct.unpack(f"<{n}h", pcm)
    return struct.pack(f"<{n}h", *(max(-32768, min(32767, int(s * gain))) for s in samples))


def make_corpus(root: Path, short: int, long: int, long_minutes: float, seed: int) -> tuple[list[Path], float]:
    """The corpus tree; returns its files and total audio seconds."""
    rng = random.Random(seed)
    sources = [read_pcm(p) for p in clips()]
    files: list[Path] = []
    for i in range(short):
        path = root / f"short/batch{i // 50:02d}/{i % 50:03d}.wav"   # basenames repeat across folders
        write_wav(path, scaled(sources[i % len(sources)], 0.6 + 0.4 * rng.random()))
        files.append(path)
    for i in range(long):
        parts, total = [], 0
        while total < long_minutes * 60 * 32000:
            gap = bytes(2 * int(16000 * rng.uniform(0.3, 3.0)))
            clip = sources[rng.randrange(len(sources))]
            parts += [clip, gap]
            total += len(clip) + len(gap)
        path = root / f"long/{i:03d}.wav"
        write_wav(path, b"".join(parts))
        files.append(path)
    seconds = sum(p.stat().st_size - 44 for p in files) / 32000
    return files, seconds


def fw_child(args: argparse.Namespace) -> None:
    """--fw-child: faster-whisper's BatchedInferencePipeline over every file of a list, one model load."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    model = WhisperModel(args.model, device="cpu", compute_type=args.fw_compute_type, cpu_threads=args.threads)
    pipeline = BatchedInferencePipeline(model=model)
    out = Path(args.fw_out)
    for line in Path(args.fw_child).read_text().splitlines():
        segments, _ = pipeline.transcribe(line, batch_size=args.fw_batch, beam_size=1)
        text = "".join(s.text for s in segments).strip()
        target = out / (Path(line).relative_to(args.fw_root).with_suffix(".txt"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")


def texts(directory: Path, suffix: str) -> dict[str, str]:
    found = {}
    for p in directory.rglob(f"*{suffix}"):
        if p.name.startswith("."):
            continue
        raw = p.read_text(encoding="utf-8")
        found[str(p.relative_to(directory).with_suffix(""))] = json.loads(raw)["text"].strip() if suffix == ".json" else raw.strip()
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=int, default=500)
    ap.add_argument("--long", type=int, default=20)
    ap.add_argument("--long-minutes", type=float, default=5.0)
    ap.add_argument("--model", default=str(CACHE / "models/whisper-tiny.en"))
    ap.add_argument("--earshot", default=str(REPO / ".build/release/earshot"))
    ap.add_argument("--memory-limit", default="600MB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fw-batch", type=int, default=8)
    ap.add_argument("--fw-compute-type", default="int8")
    ap.add_argument("--systems", default="manifest,per-file,fw")
    ap.add_argument("--work", default="/tmp/earshot-corpus-bench")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="results JSON (default WORK/results.json)")
    ap.add_argument("--fw-child", help=argparse.SUPPRESS)
    ap.add_argument("--fw-out", help=argparse.SUPPRESS)
    ap.add_argument("--fw-root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fw_child:
        return fw_child(args)

    from run import run_child, warm   # bench/run.py's child runner: wall, CPU and ru_maxrss of one child

    work = Path(args.work)
    corpus = work / "corpus"
    if corpus.exists():
        subprocess.run(["rm", "-rf", str(corpus)], check=True)
    files, audio_s = make_corpus(corpus, args.short, args.long, args.long_minutes, args.seed)
    warm(files)
    print(f"corpus: {args.short} short + {args.long} long files, {audio_s / 3600:.3f} h of audio, in {corpus}")
    env = dict(os.environ)
    systems = args.systems.split(",")
    results: dict[str, dict] = {}

    if "manifest" in systems:
        out = work / "manifest"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        cmd = [args.earshot, "transcribe", "--manifest", str(corpus), "--output-dir", str(out), "--model", args.model,
               "--output-format", "json", "--memory-limit", args.memory_limit, "--threads", str(args.threads), "--no-progress"]
        results["manifest"] = run_child(cmd, work / "manifest.stdout", work / "manifest.stderr", env)
    if "per-file" in systems:
        out = work / "per-file"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        runs = []
        for f in files:
            target = out / f.parent.relative_to(corpus)
            target.mkdir(parents=True, exist_ok=True)
            cmd = [args.earshot, "transcribe", str(f), "--output-dir", str(target), "--model", args.model,
                   "--output-format", "json", "--memory-limit", args.memory_limit, "--threads", str(args.threads), "--no-progress"]
            runs.append(run_child(cmd, work / "per-file.stdout", work / "per-file.stderr", env))
        results["per-file"] = {"ok": all(r["ok"] for r in runs), "wall_s": sum(r["wall_s"] for r in runs),
                               "user_s": sum(r["user_s"] for r in runs), "sys_s": sum(r["sys_s"] for r in runs),
                               "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "processes": len(runs)}
    if "fw" in systems:
        out = work / "fw"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        listing = work / "files.txt"
        listing.write_text("\n".join(str(f) for f in files) + "\n")
        py = str(VENV_PY) if VENV_PY.exists() else sys.executable
        cmd = [py, str(Path(__file__).resolve()), "--fw-child", str(listing), "--fw-out", str(out), "--fw-root", str(corpus),
               "--model", args.model, "--threads", str(args.threads), "--fw-batch", str(args.fw_batch),
               "--fw-compute-type", args.fw_compute_type]
        results["fw"] = run_child(cmd, work / "fw.stdout", work / "fw.stderr", env)

    print(f"{'system':10s} {'ok':>3s} {'wall s':>9s} {'CPU s':>9s} {'× real time':>12s} {'peak RSS MiB':>13s}")
    for name, r in results.items():
        r["audio_s"] = audio_s
        r["x_realtime"] = audio_s / r["wall_s"] if r.get("wall_s") else None
        print(f"{name:10s} {'yes' if r['ok'] else 'NO':>3s} {r['wall_s']:9.1f} {r['user_s'] + r['sys_s']:9.1f} "
              f"{r['x_realtime']:12.2f} {r['peak_rss_mib']:13.1f}")
    summary: dict = {}
    if "manifest" in results:
        m = results["manifest"]
        for other in ("per-file", "fw"):
            if other in results and results[other].get("wall_s"):
                summary[f"manifest_throughput_vs_{other}"] = results[other]["wall_s"] / m["wall_s"]
                print(f"manifest throughput ÷ {other}: {summary[f'manifest_throughput_vs_{other}']:.2f}×")
        from_units = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
        limit = args.memory_limit.lower()
        unit = next((u for u in sorted(from_units, key=len, reverse=True) if limit.endswith(u)), None)
        limit_mib = (float(limit[: -len(unit)]) * from_units[unit] if unit else float(limit)) / 1024**2
        summary["manifest_peak_within_limit"] = m["peak_rss_mib"] <= limit_mib
        print(f"manifest peak RSS {m['peak_rss_mib']:.1f} MiB within --memory-limit {args.memory_limit}: {summary['manifest_peak_within_limit']}")
        if "per-file" in results:
            a, b = texts(work / "manifest", ".json"), texts(work / "per-file", ".json")
            same = sum(1 for k in a if b.get(k) == a[k])
            summary["manifest_equals_per_file_text"] = f"{same}/{len(files)}"
            print(f"files whose text the manifest and per-file runs agree on: {same}/{len(files)}")
    out_path = Path(args.out) if args.out else work / "results.json"
    out_path.write_text(json.dumps({"args": vars(args), "audio_s": audio_s, "files": len(files), "results": results,
                                    "summary": summary, "loadavg": os.getloadavg()}, indent=1))
    print(f"results: {out_path}")


if __name__ == "__main__":
    main()
