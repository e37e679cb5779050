#!/usr/bin/env python3
"""Kill -9 at random points (issue 12's acceptance): a `--manifest` run is killed with SIGKILL at a random
moment, rerun to the end, and its outputs compared with an uninterrupted run's.

Each trial uses a fresh output folder: the run is started, killed after a random delay drawn uniformly from
[0, the reference run's wall time] (the delay only picks the kill point; nothing is timed), optionally killed
again (--kills), then rerun without a kill. A trial passes when every output exists, is byte-identical to the
reference run's, no output is extra, no temporary (`.partial`) is left, and the rerun's exit status is 0.

    python3 bench/corpus_kill_trials.py --trials 10                       # the acceptance run
    python3 bench/corpus_kill_trials.py --trials 2 --short 8 --long 1     # a quick check
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_bench import CACHE, REPO, make_corpus  # noqa: E402


def outputs(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--kills", type=int, default=1, help="kills per trial before the final rerun")
    ap.add_argument("--short", type=int, default=40)
    ap.add_argument("--long", type=int, default=2)
    ap.add_argument("--long-minutes", type=float, default=1.0)
    ap.add_argument("--model", default=str(CACHE / "models/whisper-tiny.en"))
    ap.add_argument("--earshot", default=str(REPO / ".build/release/earshot"))
    ap.add_argument("--format", default="json")
    ap.add_argument("--work", default="/tmp/earshot-kill-trials")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    work = Path(args.work)
    subprocess.run(["rm", "-rf", str(work)], check=True)
    corpus = work / "corpus"
    files, audio_s = make_corpus(corpus, args.short, args.long, args.long_minutes, args.seed)
    base = [args.earshot, "transcribe", "--manifest", str(corpus), "--model", args.model,
            "--output-format", args.format, "--no-progress"]
    started = time.monotonic()
    ref = subprocess.run(base + ["--output-dir", str(work / "reference")], capture_output=True, text=True)
    ref_wall = time.monotonic() - started
    if ref.returncode != 0:
        raise SystemExit(f"reference run failed: {ref.stderr}")
    want = outputs(work / "reference")
    print(f"{len(files)} files, {audio_s:.0f} s of audio; reference run wrote {len(want)} outputs")
    rng = random.Random(args.seed)
    results = []
    for trial in range(args.trials):
        out = work / f"trial{trial:02d}"
        kills = []
        for _ in range(args.kills):
            delay = rng.uniform(0, ref_wall)
            proc = subprocess.Popen(base + ["--output-dir", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=delay)
                kills.append({"delay_s": round(delay, 2), "killed": False})
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                done = len(outputs(out)) if out.exists() else 0
                kills.append({"delay_s": round(delay, 2), "killed": True, "outputs_at_kill": done})
                # Whatever is in place after a kill must already be complete.
                for name, data in (outputs(out) if out.exists() else {}).items():
                    if want.get(name) != data:
                        kills[-1]["incomplete_output"] = name
        rerun = subprocess.run(base + ["--output-dir", str(out)], capture_output=True, text=True)
        got = outputs(out)
        partials = [str(p) for p in out.rglob("*.partial")]
        ok = (rerun.returncode == 0 and got == want and not partials
              and not any("incomplete_output" in k for k in kills))
        summary = rerun.stderr.strip().splitlines()[0] if rerun.stderr.strip() else ""
        results.append({"trial": trial, "ok": ok, "kills": kills, "rerun": summary,
                        "missing": sorted(set(want) - set(got)), "extra": sorted(set(got) - set(want)),
                        "different": sorted(k for k in want if k in got and got[k] != want[k]), "partials": partials})
        print(f"trial {trial}: {'ok' if ok else 'FAILED'}  kills {kills}  rerun: {summary}")
    passed = sum(r["ok"] for r in results)
    print(f"{passed}/{len(results)} trials: every output complete and identical to the uninterrupted run")
    (work / "results.json").write_text(json.dumps(results, indent=1))
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
