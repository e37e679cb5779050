#!/usr/bin/env python3
"""FSMN-VAD benchmark, one invocation: Earshot (`earshot vad FILE --format json`) against funasr-onnx 0.4.3
(`Fsmn_vad`, 2 intra-op threads) on a 30-minute and a 2-hour recording built by scripts/make-long-audio.py.

For each tool and file: wall time (→ real-time factor = audio seconds / wall seconds) and peak RSS of the
process (ru_maxrss from wait4), best of --runs; checks both give the same segments; prints the ratios and a
markdown table for docs/performance.md.

Usage: $EARSHOT_CACHE/venv/bin/python bench/vad/bench.py [--earshot .build-vad/release/earshot] [--runs 1]
       [--minutes 30 120] [--threads 1]
Build first: swift build --scratch-path .build-vad -c release --product earshot
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    """Runs cmd, returns (wall seconds, peak RSS bytes, stdout)."""
    out = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    out.seek(0)
    return wall, usage.ru_maxrss * 1024, out.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot", default=os.path.join(ROOT, ".build-vad", "release", "earshot"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--minutes", type=float, nargs="+", default=[30, 120])
    ap.add_argument("--threads", type=int, default=1, help="earshot --threads")
    a = ap.parse_args()
    if subprocess.run([a.earshot, "vad", "--help"], capture_output=True).returncode != 0:
        sys.exit(f"{a.earshot} has no 'vad' command; build it: swift build --scratch-path .build-vad -c release --product earshot")
    tmp = tempfile.mkdtemp(prefix="earshot-vad-bench-")
    rows = []
    for minutes in a.minutes:
        wav = os.path.join(tmp, f"long-{minutes:g}min.wav")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-long-audio.py"), "--minutes", str(minutes), "--out", wav], check=True)
        audio_s = minutes * 60
        tools = {
            "earshot": [a.earshot, "vad", wav, "--format", "json", "--threads", str(a.threads)],
            "funasr-onnx": [sys.executable, os.path.join(HERE, "funasr_onnx_vad.py"), wav],
        }
        res = {}
        for name, cmd in tools.items():
            best = None
            for _ in range(a.runs):
                wall, rss, out = run(cmd)
                if best is None or wall < best[0]:
                    best = (wall, rss, out)
                best = (best[0], max(best[1], rss), best[2])
            res[name] = best
            print(f"{minutes:g} min  {name:12s} {best[0]:7.2f} s  RTF×{audio_s / best[0]:7.1f}  peak RSS {best[1] / 2**20:8.1f} MB", flush=True)
        same = json.loads(res["earshot"][2]) == json.loads(res["funasr-onnx"][2])
        e, f = res["earshot"], res["funasr-onnx"]
        print(f"{minutes:g} min  speed ratio earshot/funasr-onnx {f[0] / e[0]:.2f}×, RSS ratio funasr-onnx/earshot {f[1] / e[1]:.1f}×, "
              f"segments identical: {same} ({len(json.loads(e[2]))} segments)", flush=True)
        rows.append((minutes, e, f, same, len(json.loads(e[2]))))
        os.remove(wav)
    print("\n| recording | tool | wall (s) | × real time | peak RSS (MB) |\n|---|---|---|---|---|")
    for minutes, e, f, same, n in rows:
        for name, r in (("earshot vad", e), ("funasr-onnx Fsmn_vad", f)):
            print(f"| {minutes:g} min ({n} segments) | {name} | {r[0]:.2f} | {minutes * 60 / r[0]:.0f} | {r[1] / 2**20:.1f} |")
        print(f"| {minutes:g} min | **ratio** | **{f[0] / e[0]:.2f}× faster** | | **{f[1] / e[1]:.0f}× less** |")


if __name__ == "__main__":
    main()
