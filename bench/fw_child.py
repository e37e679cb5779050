#!/usr/bin/env python3
"""faster-whisper side of bench/run.py, run as its own child process so its peak RSS is its own.

Writes a JSON file shaped like Earshot's `--output-format json` ({"text", "segments": [{"start","end","text"}]})
plus "timing" (import, model load and transcription seconds, measured inside this process) and "options".

  modes: sequential        WhisperModel.transcribe(path, **kwargs)                       (vad_filter=False)
         vad               WhisperModel.transcribe(path, vad_filter=True, **kwargs)      (default VadOptions)
         batchedN          BatchedInferencePipeline(model).transcribe(path, batch_size=N, **kwargs)
                           (its defaults: Silero VAD on, chunks <= 30 s, without_timestamps=True)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

t0 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("audio")
    ap.add_argument("--model", required=True)
    ap.add_argument("--compute-type", default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--mode", default="sequential")
    ap.add_argument("--transcribe-kwargs", default="{}", help="extra WhisperModel.transcribe kwargs, JSON")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import ctranslate2
    import faster_whisper
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    t_import = time.perf_counter()

    ctranslate2.set_random_seed(0)
    model = WhisperModel(args.model, device="cpu", compute_type=args.compute_type, cpu_threads=args.threads)
    t_load = time.perf_counter()

    kwargs = {"beam_size": args.beam_size}
    kwargs.update(json.loads(args.transcribe_kwargs))
    if args.mode == "sequential":
        segments, info = model.transcribe(args.audio, **kwargs)
    elif args.mode == "vad":
        segments, info = model.transcribe(args.audio, vad_filter=True, **kwargs)
    elif args.mode.startswith("batched"):
        kwargs["batch_size"] = int(args.mode[len("batched"):])
        segments, info = BatchedInferencePipeline(model=model).transcribe(args.audio, **kwargs)
    else:
        raise SystemExit(f"unknown mode {args.mode}")
    segs = [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "temperature": s.temperature,
             "avg_logprob": s.avg_logprob, "compression_ratio": s.compression_ratio,
             "no_speech_prob": s.no_speech_prob, "n_tokens": len(s.tokens)} for s in segments]
    t_done = time.perf_counter()

    opts = dataclasses.asdict(info.transcription_options)
    out = {
        "text": "".join(s["text"] for s in segs).strip(),
        "segments": segs,
        "language": info.language,
        "duration_s": info.duration,
        "duration_after_vad_s": info.duration_after_vad,
        "timing": {"import_s": t_import - t0, "load_s": t_load - t_import, "transcribe_s": t_done - t_load},
        "options": {"faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
                    "compute_type": args.compute_type, "cpu_threads": args.threads, "mode": args.mode,
                    "transcribe_kwargs": kwargs, "transcription_options": opts,
                    "vad_options": dataclasses.asdict(info.vad_options) if info.vad_options else None},
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
