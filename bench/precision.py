#!/usr/bin/env python3
"""Precision and pruning table: Earshot at fp32 / fp16 / int8 and pruned models, next to faster-whisper
float32 and int8, all in one invocation on the same recording (bench/run.py's children and scoring).

  ~/.cache/earshot/venv/bin/python bench/precision.py --model tiny.en --minutes 3 \
      --earshot-bin .build-quant/release/earshot [--prune 3,2] [--json-out bench/results/precision-tiny.json]

Model directories are written by the Earshot binary itself into --work-dir (git-ignored):
  fp32   `earshot quantize SRC fp32 --to fp32`    run with --precision fp32
  fp16   the source directory (CTranslate2 float16)  run with --precision fp16
  int8   `earshot quantize SRC int8 --to int8`    run with --precision int8 (int8 weights packed at load)
  pruned `earshot prune SRC … --encoder-layers K` / `--decoder-layers K` / both, then `quantize --to int8`,
         run with --precision int8 (the combination a user short of memory would pick)
faster-whisper: WhisperModel(SRC, compute_type=float32 | int8, cpu_threads=T).transcribe(FILE, beam_size=B).

"weight MiB" is the tensor payload of the model directory each system runs at that precision (model.bin
minus headers; for faster-whisper float32/int8 the fp32/int8 directories written above, which hold what
CTranslate2 converts to at load). Ratios in the printed table are against Earshot fp32 of this same run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import struct
import subprocess
import sys
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py: run_child, score, warm, loadavg, ensure_venv)


def tensor_bytes(model_bin: Path) -> int:
    """Sum of tensor payloads in a version-6 model.bin (aliases counted once). Reads the headers only, seeking
    over the payloads: reading whole files here would raise this parent's RSS high-water mark, which Linux
    passes on to every child's ru_maxrss (see bench/run.py run_child)."""
    with open(model_bin, "rb") as f:
        def u(fmt):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def s():
            f.seek(u("H"), os.SEEK_CUR)

        u("I"); s(); u("I")
        total = 0
        for _ in range(u("I")):
            s()
            for _ in range(u("B")):
                u("I")
            u("B")
            n = u("I")
            total += n
            f.seek(n, os.SEEK_CUR)
        return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny.en", choices=list(bench.MODELS))
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--audio", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--earshot-bin", type=Path, default=bench.REPO / ".build-quant" / "release" / "earshot")
    ap.add_argument("--prune", default="", help="comma list of K: for each, encoder-only, decoder-only and both")
    ap.add_argument("--prune-spread", action="store_true", help="also the evenly spaced selection for each K (both)")
    ap.add_argument("--prune-variants", default="enc,dec,both", help="comma list of enc, dec, both")
    ap.add_argument("--skip-precision", action="store_true", help="only the pruning rows (plus Earshot int8)")
    ap.add_argument("--skip-fw", action="store_true")
    ap.add_argument("--work-dir", type=Path, default=bench.REPO / "bench" / "results" / "precision")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    bench.ensure_venv()

    src = bench.CACHE / "models" / bench.MODELS[args.model]
    if not (src / "model.bin").is_file():
        raise SystemExit(f"{src}/model.bin missing: scripts/fetch-assets.sh models")
    if args.audio:
        audio = args.audio.resolve()
    else:
        made = subprocess.run([sys.executable, str(bench.REPO / "scripts" / "make-long-recording.py"),
                               "--minutes", f"{args.minutes:g}"], check=True, capture_output=True, text=True)
        audio = Path(made.stdout.strip().splitlines()[-1])
    reference = " ".join(audio.with_suffix(".txt").read_text(encoding="utf-8").split("\n")).strip()
    with wave.open(str(audio), "rb") as w:
        audio_s = w.getnframes() / w.getframerate()
    work = args.work_dir / f"{audio.stem}-{args.model}"
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    earshot = str(args.earshot_bin)

    def make(name: str, *command: str) -> Path:
        out = models / name
        if not (out / "model.bin").is_file():
            subprocess.run([earshot, command[0], command[1], str(out), *command[2:]], check=True)
        return out

    fp32 = make("fp32", "quantize", str(src), "--to", "fp32")
    int8 = make("int8", "quantize", str(src), "--to", "int8")
    jobs = []  # (label, kind, model_dir, precision or compute type, weight dir)
    if not args.skip_precision:
        jobs += [("Earshot fp32", "earshot", fp32, "fp32", fp32),
                 ("Earshot fp16", "earshot", src, "fp16", src)]
    jobs += [("Earshot int8", "earshot", int8, "int8", int8)]
    if not args.skip_fw and not args.skip_precision:
        jobs += [("faster-whisper float32", "fw", src, "float32", fp32),
                 ("faster-whisper int8", "fw", src, "int8", int8)]
    total_layers = None
    for k in [int(x) for x in args.prune.split(",") if x.strip()]:
        variants = [("enc", ["--encoder-layers", str(k)]), ("dec", ["--decoder-layers", str(k)]),
                    ("both", ["--encoder-layers", str(k), "--decoder-layers", str(k)])]
        if args.prune_spread:
            variants.append(("both-spread", ["--encoder-layers", str(k), "--decoder-layers", str(k), "--layers", "spread"]))
        wanted = set(args.prune_variants.split(",")) | {"both-spread"}
        for tag, flags in [v for v in variants if v[0] in wanted]:
            pruned = make(f"prune-{tag}{k}", "prune", str(src), *flags)
            q = make(f"prune-{tag}{k}-int8", "quantize", str(pruned), "--to", "int8")
            label = {"enc": f"encoder {k}", "dec": f"decoder {k}", "both": f"encoder {k} + decoder {k}",
                     "both-spread": f"encoder {k} + decoder {k}, spread"}[tag]
            jobs.append((f"Earshot int8, {label}", "earshot", q, "int8", q))

    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    bench.warm([src / "model.bin", fp32 / "model.bin", int8 / "model.bin", audio])
    report = {"audio": str(audio), "audio_s": audio_s, "model": args.model, "threads": args.threads,
              "beam_size": args.beam_size, "command": " ".join(shlex.quote(a) for a in ["bench/precision.py", *sys.argv[1:]]),
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "loadavg_start": bench.loadavg()}, "runs": []}
    to_score = []
    for i, (label, kind, model_dir, prec, weights) in enumerate(jobs):
        out, err = work / f"run{i}.json", work / f"run{i}.stderr"
        if kind == "earshot":
            cmd = [earshot, "transcribe", str(audio), "--model", str(model_dir), "--output-format", "json",
                   "--threads", str(args.threads), "--beam-size", str(args.beam_size), "--precision", prec]
            stdout = out
        else:
            cmd = [str(bench.VENV_PY if bench.VENV_PY.exists() else sys.executable), str(bench.REPO / "bench" / "fw_child.py"),
                   str(audio), "--model", str(model_dir), "--compute-type", prec, "--threads", str(args.threads),
                   "--beam-size", str(args.beam_size), "--mode", "sequential", "--transcribe-kwargs", "{}", "--out", str(out)]
            stdout = out.with_suffix(".stdout")
        print(f"running {label}: {' '.join(shlex.quote(c) for c in cmd)}", file=sys.stderr)
        bench.warm([model_dir / "model.bin"])
        res = bench.run_child(cmd, stdout, err, env)
        res.update({"label": label, "system": kind, "precision": prec, "model_dir": str(model_dir),
                    "weight_bytes": tensor_bytes(weights / "model.bin")})
        if res["ok"]:
            to_score.append((res, out))
        else:
            res["error"] = f"exit code {res.get('exit_code')}: {bench.tail(err)}"
        report["runs"].append(res)
    report["machine"]["loadavg_end"] = bench.loadavg()

    sys.path.insert(0, str(bench.REPO / "scripts" / "oracle"))
    import whisper_common as wc
    for res, out in to_score:
        bench.score(res, out, reference, audio_s, wc)

    base = next((r for r in report["runs"] if r["label"] == "Earshot fp32" and r.get("ok")), None)
    print(f"\n{audio.name}: {audio_s:.1f} s, model {args.model}, beam {args.beam_size}, {args.threads} threads, "
          f"load avg {report['machine']['loadavg_start']} → {report['machine']['loadavg_end']}")
    head = ("| system | WER % | weight MiB | weights vs fp32 | peak RSS MiB (polled VmHWM) | wall s | CPU s | x realtime "
            "| speed vs Earshot fp32 |")
    print(head)
    print("|" + "---|" * 9)
    for r in report["runs"]:
        if not r.get("ok"):
            print(f"| {r['label']} | FAILED: {r.get('error', '')[:200]} |")
            continue
        wb = r["weight_bytes"] / 1048576
        rel_w = f"{100 * r['weight_bytes'] / base['weight_bytes']:.1f} %" if base else "n/a"
        rel_s = f"{base['wall_s'] / r['wall_s']:.2f} ×" if base else "n/a"
        print(f"| {r['label']} | {100 * r['wer']:.2f} | {wb:.1f} | {rel_w} | {r['peak_rss_mib']:.0f} ({r['vmhwm_polled_mib'] or 0:.0f}) | {r['wall_s']:.1f} | "
              f"{r['user_s'] + r['sys_s']:.1f} | {r['rtf_speed']:.1f} | {rel_s} |")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
