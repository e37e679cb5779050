#!/usr/bin/env python3
"""Earshot vs faster-whisper on one long real recording, in one invocation.

Builds (or reuses) a >= --minutes English recording with scripts/make-long-recording.py, then runs each system
as its own child process on the same file with the same CTranslate2 model directory, and reports for each:
wall time, real-time factor (audio s / wall s, and its inverse), peak RSS (os.wait4 → ru_maxrss of that child),
and WER against the concatenated reference (the one normaliser of scripts/oracle/whisper_common.py:
openai-whisper's EnglishTextNormalizer on both sides, then jiwer.wer); then the ratios Earshot / faster-whisper.

  Earshot:        .build/release/earshot transcribe FILE --model DIR --output-format json --threads T
                  --beam-size B [--earshot-args ...]
  faster-whisper: bench/fw_child.py (WhisperModel(DIR, device="cpu", compute_type=C, cpu_threads=T),
                  transcribe(FILE, beam_size=B), everything else faster-whisper's defaults, which are also
                  Earshot's defaults: temperature fallback, condition_on_previous_text, no VAD)

A failing Earshot (missing binary, non-zero exit, unparsable JSON) is reported and the faster-whisper half
still runs. Run with the venv python (scripts/setup-venv.sh); run from another python it re-executes itself
with the venv's. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EARSHOT_CACHE", str(Path.home() / ".cache" / "earshot")))
VENV_PY = CACHE / "venv" / "bin" / "python"
MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}


def ensure_venv() -> None:
    """Re-executes with the venv's python when needed. Only looks the modules up (no import), so that this
    parent stays small: see run_child."""
    import importlib.util
    if all(importlib.util.find_spec(m) for m in ("faster_whisper", "jiwer", "regex", "more_itertools")):
        return
    if VENV_PY.exists() and Path(sys.prefix).resolve() != (CACHE / "venv").resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
    raise SystemExit(f"needs the venv: scripts/setup-venv.sh, then {VENV_PY} bench/run.py ...")


def rss_of(pid: int | str, field: str) -> float | None:
    """VmRSS / VmHWM of a process in MiB, from /proc (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return None


def warm(paths: list[Path]) -> None:
    """Reads the files once so that neither system pays for the first cold read from disk."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def run_child(cmd: list[str], stdout_path: Path, stderr_path: Path, env: dict) -> dict:
    """Runs cmd as a child and measures its wall time and peak RSS.

    peak_rss_mib is os.wait4's ru_maxrss. On Linux that is a high-water mark that also covers the moment of
    exec, when the child still has this parent's pages, so it is max(this parent's RSS at spawn, the child's
    own peak): the parent therefore imports nothing heavy before the children have run (launcher_rss_mib
    records it). vmhwm_polled_mib is the child's own VmHWM from /proc, sampled every 20 ms (a cross-check
    that may miss a peak in the last 20 ms)."""
    import threading
    launcher = rss_of("self", "VmRSS")
    polled = {"hwm": None}
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        except OSError as e:
            return {"ok": False, "error": f"could not start: {e}", "command": cmd}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                v = rss_of(proc.pid, "VmHWM")
                if v is not None:
                    polled["hwm"] = v if polled["hwm"] is None else max(polled["hwm"], v)
                done.wait(0.02)

        th = threading.Thread(target=poll, daemon=True)
        th.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        th.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"ok": proc.returncode == 0, "exit_code": proc.returncode, "wall_s": wall,
            "peak_rss_mib": ru.ru_maxrss / 1024.0, "vmhwm_polled_mib": polled["hwm"], "launcher_rss_mib": launcher,
            "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "command": cmd}


def tail(path: Path, n: int = 800) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace").strip()


def score(result: dict, hyp_path: Path, reference: str, audio_s: float, wc) -> None:
    try:
        hyp = json.loads(hyp_path.read_text(encoding="utf-8"))
        text = hyp["text"] if isinstance(hyp.get("text"), str) else \
            "".join(s["text"] for s in hyp["segments"]).strip()
    except (OSError, ValueError, KeyError, TypeError) as e:
        result["ok"] = False
        result["error"] = f"no usable JSON transcript in {hyp_path}: {e!r}"
        return
    ref_n, hyp_n = wc.normalize(reference, "en"), wc.normalize(text, "en")
    import jiwer
    o = jiwer.process_words(ref_n, hyp_n)
    result.update({
        "wer": o.wer, "substitutions": o.substitutions, "deletions": o.deletions, "insertions": o.insertions,
        "reference_words": o.hits + o.substitutions + o.deletions, "hypothesis_words": len(hyp_n.split()),
        "segments": len(hyp.get("segments") or []),
        "rtf_speed": audio_s / result["wall_s"], "rtf": result["wall_s"] / audio_s,
    })
    for k in ("timing", "language", "duration_after_vad_s"):
        if k in hyp:
            result[k] = hyp[k]


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny.en", choices=list(MODELS))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--audio", type=Path, help="use this 16 kHz WAV instead (needs AUDIO.txt, the reference)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--earshot-bin", type=Path, default=REPO / ".build" / "release" / "earshot")
    ap.add_argument("--earshot-args", default="", help="extra earshot arguments, one shell-quoted string, "
                                                       "e.g. --earshot-args='--precision int8'")
    ap.add_argument("--fw-compute-type", default="float32")
    ap.add_argument("--fw-modes", default="sequential",
                    help="comma list of: sequential, vad (vad_filter=True), batched8, batched16 "
                         "(BatchedInferencePipeline, batch_size N); each is its own child process")
    ap.add_argument("--fw-transcribe-kwargs", default="{}",
                    help='extra faster-whisper transcribe kwargs as JSON, e.g. \'{"temperature": 0.0}\'')
    ap.add_argument("--fw-env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment for the faster-whisper child only (repeatable), e.g. CT2_FORCE_CPU_ISA=AVX512")
    ap.add_argument("--skip-earshot", action="store_true")
    ap.add_argument("--skip-fw", action="store_true")
    ap.add_argument("--work-dir", type=Path, default=REPO / "bench" / "results",
                    help="raw outputs and logs of each child (git-ignored)")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every child this many times, alternating (A B A B); medians are reported")
    args = ap.parse_args()
    ensure_venv()
    to_score = []

    model_dir = CACHE / "models" / MODELS[args.model]
    if not (model_dir / "model.bin").is_file():
        raise SystemExit(f"{model_dir}/model.bin missing: scripts/fetch-assets.sh models")
    if args.audio:
        audio = args.audio.resolve()
    else:
        made = subprocess.run([sys.executable, str(REPO / "scripts" / "make-long-recording.py"),
                               "--minutes", f"{args.minutes:g}"], check=True, capture_output=True, text=True)
        audio = Path(made.stdout.strip().splitlines()[-1])
    ref_path = audio.with_suffix(".txt")
    reference = " ".join(ref_path.read_text(encoding="utf-8").split("\n")).strip()
    import wave
    with wave.open(str(audio), "rb") as w:
        audio_s = w.getnframes() / w.getframerate()

    work = args.work_dir / f"{audio.stem}-{args.model}-b{args.beam_size}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    warm([model_dir / "model.bin", audio])

    report = {
        "audio": str(audio), "audio_s": audio_s, "reference": str(ref_path), "model": args.model,
        "model_dir": str(model_dir), "threads": args.threads, "beam_size": args.beam_size,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "loadavg_start": loadavg()},
        "normaliser": "openai-whisper 20250625 EnglishTextNormalizer on reference and hypothesis, then jiwer.wer",
        "runs": {},
    }
    cmd_line = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "bench/run.py", *sys.argv[1:]])
    report["command"] = cmd_line

    # Every child to run, in order; with --rounds N the whole list runs N times (A B A B …), so a drift in the
    # machine's speed affects both systems alike. Each run is reported; the summary takes the median.
    children = []
    if not args.skip_earshot:
        if not args.earshot_bin.exists():
            report["runs"]["earshot"] = {"ok": False, "error": f"{args.earshot_bin} not found (swift build -c release --product earshot)"}
        else:
            cmd = [str(args.earshot_bin), "transcribe", str(audio), "--model", str(model_dir),
                   "--output-format", "json", "--threads", str(args.threads), "--beam-size", str(args.beam_size),
                   *shlex.split(args.earshot_args)]
            children.append(("earshot", cmd, env, {}, ".json"))
    if not args.skip_fw:
        for mode in [m.strip() for m in args.fw_modes.split(",") if m.strip()]:
            name = f"faster-whisper-{mode}"
            fw_env = dict(env)
            fw_env.update(kv.split("=", 1) for kv in args.fw_env)
            cmd = [str(VENV_PY if VENV_PY.exists() else sys.executable), str(REPO / "bench" / "fw_child.py"),
                   str(audio), "--model", str(model_dir), "--compute-type", args.fw_compute_type,
                   "--threads", str(args.threads), "--beam-size", str(args.beam_size), "--mode", mode,
                   "--transcribe-kwargs", args.fw_transcribe_kwargs, "--out", "{out}"]
            children.append((name, cmd, fw_env, {"compute_type": args.fw_compute_type, "extra_env": args.fw_env},
                             f"-{args.fw_compute_type}.json"))
    rounds: dict[str, list] = {name: [] for name, *_ in children}
    for round_index in range(args.rounds):
        for name, cmd, child_env, extra, suffix in children:
            tag = name if args.rounds == 1 else f"{name}-r{round_index + 1}"
            out, err = work / f"{tag}{suffix}", work / f"{tag}{suffix}".replace(".json", ".stderr")
            err = Path(str(err))
            is_fw = name != "earshot"
            full = [c.replace("{out}", str(out)) for c in cmd]
            print(f"running {tag}: {' '.join(shlex.quote(c) for c in full)}", file=sys.stderr)
            res = run_child(full, out.with_suffix(".stdout") if is_fw else out, err, child_env)
            res.update(extra)
            res["loadavg_after"] = loadavg()
            if res["ok"]:
                to_score.append((res, out))
            else:
                res.setdefault("error", f"exit code {res.get('exit_code')}: {tail(err)}")
            rounds[name].append(res)
    report["machine"]["loadavg_end"] = loadavg()

    # Scored only now: the normaliser and jiwer would grow this parent before a child's spawn (see run_child).
    sys.path.insert(0, str(REPO / "scripts" / "oracle"))
    import whisper_common as wc
    for res, out in to_score:
        score(res, out, reference, audio_s, wc)
    for name, runs in rounds.items():
        ok = [r for r in runs if r.get("ok")]
        if len(ok) < len(runs) or not ok:
            report["runs"][name] = next(r for r in runs if not r.get("ok"))
            continue
        summary = dict(ok[0])
        for key in ("wall_s", "user_s", "sys_s", "peak_rss_mib", "rtf", "rtf_speed"):
            if key in summary:
                summary[key] = statistics.median(r[key] for r in ok)
        summary["rounds"] = ok
        report["runs"][name] = summary

    # Ratios Earshot / faster-whisper (each faster-whisper mode).
    e = report["runs"].get("earshot")
    report["ratios_earshot_over_fw"] = {}
    if e and e.get("ok"):
        for name, r in report["runs"].items():
            if name != "earshot" and r.get("ok"):
                report["ratios_earshot_over_fw"][name] = {
                    "wall": e["wall_s"] / r["wall_s"],
                    "cpu": (e["user_s"] + e["sys_s"]) / (r["user_s"] + r["sys_s"]), "peak_rss": e["peak_rss_mib"] / r["peak_rss_mib"],
                    "wer": (e["wer"] / r["wer"]) if r["wer"] else None}

    print(f"\n{audio.name}: {audio_s:.1f} s of audio ({audio_s / 60:.2f} min), model {args.model}, "
          f"beam {args.beam_size}, {args.threads} threads, load avg at start {report['machine']['loadavg_start']}")
    print(f"{'system':34s} {'wall s':>8s} {'CPU s':>8s} {'x realtime':>10s} {'RTF':>7s} {'peak RSS MiB':>12s} "
          f"{'WER %':>7s}  S/D/I")
    for name, r in report["runs"].items():
        label = name + (f" [{r['compute_type']}]" if "compute_type" in r else "")
        if r.get("ok"):
            print(f"{label:34s} {r['wall_s']:8.1f} {r['user_s'] + r['sys_s']:8.1f} {r['rtf_speed']:10.2f} {r['rtf']:7.4f} {r['peak_rss_mib']:12.1f} "
                  f"{100 * r['wer']:7.2f}  {r['substitutions']}/{r['deletions']}/{r['insertions']}"
                  f" of {r['reference_words']}")
        else:
            print(f"{label:34s} FAILED: {r.get('error', '')[:300]}")
    if args.rounds > 1:
        for name, r in report["runs"].items():
            if r.get("rounds"):
                walls = ", ".join(f"{x['wall_s']:.1f}" for x in r["rounds"])
                rss = ", ".join(f"{x['peak_rss_mib']:.0f}" for x in r["rounds"])
                loads = ", ".join(f"{x['loadavg_after'][0]:.2f}" for x in r["rounds"])
                print(f"  {name}: wall s per round {walls}; peak RSS MiB {rss}; 1-min load after each {loads}")
        print(f"(medians of {args.rounds} rounds, run alternately)")
    for name, q in report["ratios_earshot_over_fw"].items():
        wer_q = "n/a" if q["wer"] is None else f"{q['wer']:.2f}"
        print(f"earshot / {name}: wall {q['wall']:.2f}, CPU {q['cpu']:.2f}, peak RSS {q['peak_rss']:.2f}, WER {wer_q}")
    if e is not None and not e.get("ok"):
        print("earshot / faster-whisper: not computed (Earshot failed)")
    print(f"load avg at end {report['machine']['loadavg_end']}; raw outputs in {work}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
