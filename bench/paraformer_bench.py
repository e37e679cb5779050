#!/usr/bin/env python3
"""Paraformer speed and memory: Earshot against FunASR (PyTorch, CPU, same threads), one invocation.

No registry ships Paraformer weights, so this runs the FULL-size random-weight models that
`scripts/oracle/paraformer_oracle.py --full` writes (same architecture and sizes as paraformer-large;
random weights make CIF fire arbitrarily, but the work per second of audio is the real model's).

Per engine and model: ms of compute per second of audio, and the process's peak RSS.
- FunASR: a child process in the oracle venv loads `AutoModel(model=DIR, device="cpu", ncpu=THREADS)`,
  runs `generate` on the clip RUNS+1 times (the first is a warm-up) and reports the median of the rest and
  its peak RSS (getrusage).
- Earshot: `earshot transcribe CLIP×1` and `earshot transcribe CLIP×(RUNS+1)` (`--vad none`: the clip is one
  window, as FunASR gets it whole) under /usr/bin/time; per-run time = (wall(RUNS+1) − wall(1)) / RUNS, so
  loading is excluded as on the FunASR side; peak RSS of the larger run.
Engines alternate (A B A B) for `--rounds`; medians are reported with the load average.

  bench/paraformer_bench.py [--models paraformer,bicif] [--precisions fp32,int8] [--rounds 2] [--clip WAV]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))

FUNASR_CHILD = r"""
import json, resource, statistics, sys, time, logging
logging.disable(logging.WARNING)
import soundfile as sf, torch
from funasr import AutoModel
model_dir, clip, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
audio, rate = sf.read(clip, dtype="float32")
model = AutoModel(model=model_dir, device="cpu", ncpu=threads, disable_update=True, disable_pbar=True, disable_log=True)
times = []
for i in range(runs + 1):
    start = time.time()
    model.generate(input=audio)
    times.append(time.time() - start)
print(json.dumps({"per_run_s": statistics.median(times[1:]),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def duration(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def funasr(model_dir, clip, runs, threads):
    python = os.path.join(CACHE, "venv-funasr/bin/python")
    out = subprocess.run([python, "-c", FUNASR_CHILD, model_dir, clip, str(runs), str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def earshot(binary, model_dir, clip, runs, threads, precision):
    def timed(copies):
        with tempfile.NamedTemporaryFile("r") as rss:
            start = time.time()
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, binary, "transcribe", "--model", model_dir,
                            "--vad", "none", "--precision", precision, "--threads", str(threads), "--no-progress",
                            *([clip] * copies)], check=True, stdout=subprocess.DEVNULL)
            wall = time.time() - start
            return wall, int(rss.read().strip().splitlines()[-1]) * 1024
    one, _ = timed(1)
    many, peak = timed(runs + 1)
    return {"per_run_s": (many - one) / runs, "peak_rss_bytes": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build/release/earshot"))
    parser.add_argument("--models", default="paraformer,bicif")
    parser.add_argument("--precisions", default="fp32,int8")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clip", default=None, help="≤ 30 s, 16 kHz mono WAV (default: 20 s of the 10-min recording)")
    args = parser.parse_args()
    clip = args.clip or make_clip()
    seconds = duration(clip)
    rows = []
    for name in args.models.split(","):
        model_dir = os.path.join(CACHE, "models/paraformer-large-random", name)
        samples = {"funasr fp32": []}
        samples.update({f"earshot {p}": [] for p in args.precisions.split(",")})
        for _ in range(args.rounds):   # alternate the engines: A B A B
            samples["funasr fp32"].append(funasr(model_dir, clip, args.runs, args.threads))
            for p in args.precisions.split(","):
                samples[f"earshot {p}"].append(earshot(args.earshot, model_dir, clip, args.runs, args.threads, p))
        base = statistics.median(r["per_run_s"] for r in samples["funasr fp32"])
        for engine, runs in samples.items():
            per_run = statistics.median(r["per_run_s"] for r in runs)
            peak = max(r["peak_rss_bytes"] for r in runs)
            rows.append({"model": name, "engine": engine, "ms_per_audio_s": 1000 * per_run / seconds,
                         "rounds_ms_per_audio_s": [round(1000 * r["per_run_s"] / seconds, 1) for r in runs],
                         "time_ratio_vs_funasr": per_run / base, "peak_rss_mib": peak / 2**20})
    print(json.dumps({"clip": clip, "clip_s": seconds, "threads": args.threads, "runs": args.runs,
                      "load_average": open("/proc/loadavg").read().split()[:3], "rows": rows}, indent=2))


def make_clip():
    source = os.path.join(CACHE, "long/english-10min-seed0.wav")
    out = os.path.join(CACHE, "long/english-20s-clip.wav")
    if not os.path.exists(out):
        with wave.open(source) as w:
            params = w.getparams()
            w.setpos(60 * w.getframerate())
            frames = w.readframes(20 * w.getframerate())
        with wave.open(out, "wb") as o:
            o.setparams(params)
            o.writeframes(frames)
    return out


if __name__ == "__main__":
    main()
