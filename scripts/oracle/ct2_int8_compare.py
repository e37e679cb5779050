#!/usr/bin/env python3
"""Layer-by-layer comparison of Earshot's int8 (and fp32) Whisper with CTranslate2 4.8.5 on the same mel window.

Earshot writes its side with the debug test in Tests/EarshotWhisperTests/Int8DumpTests.swift; this script runs
ctranslate2.models.Whisper (compute_type "int8" and "float32", 2 threads, as faster-whisper is run by the
oracle) on the same window and compares:

  encoder   Earshot encoder output vs model.encode(mel)                       ([1500, width])
  logits    Earshot first-step logits vs CTranslate2's (generate, max_length=1 new token,
            return_logits_vocab) after <|startoftranscript|> … <|notimestamps|>
  decoder   both decoders run on the *same* encoder output (CTranslate2's decoder on Earshot's encoder
            output, and — after the second dump — Earshot's decoder on CTranslate2's), which isolates
            the decoder from the encoder

Usage (from the repo root; DIR is any scratch directory):
  export EARSHOT_INT8_DUMP=DIR
  swift test -c release -Xswiftc -enable-testing --skip-build --filter Int8DumpTests   # mel + Earshot side
  ~/.cache/earshot/venv/bin/python scripts/oracle/ct2_int8_compare.py DIR             # CTranslate2 side
  swift test -c release -Xswiftc -enable-testing --skip-build --filter Int8DumpTests   # Earshot on CT2 encoder
  ~/.cache/earshot/venv/bin/python scripts/oracle/ct2_int8_compare.py DIR             # full report
Optional: EARSHOT_INT8_AUDIO=<path under the cache> and EARSHOT_INT8_MODEL=models/whisper-base for the test,
--model base here. Set CT2_VERBOSE=1 to see the ISA and GEMM backends CTranslate2 picks.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import whisper_common as wc  # noqa: E402

MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
COMPUTE = {"int8": "int8", "fp32": "float32"}


def read_f32(path: Path, shape=None):
    a = np.fromfile(path, dtype="<f4")
    return a.reshape(shape) if shape is not None else a


def step_logits(model, encoded, prompt, sot=50257, no_timestamps=None):
    """Logits of every decoding step of `prompt`, `[steps][vocab]`; the last row predicts the token after it.
    CTranslate2's Whisper generate() runs the start sequence (<|startoftranscript|> up to <|notimestamps|>,
    src/models/whisper.cc get_prompt_length) as the prompt and forces any later tokens as a decoding prefix,
    one step each, reporting logits for every forced step too."""
    import ctranslate2
    if no_timestamps is None:
        no_timestamps = sot + 105  # <|notimestamps|>: 50362 (tiny.en), 50363 (multilingual)
    length = prompt.index(sot)
    while length < len(prompt) and sot <= prompt[length] <= no_timestamps:
        length += 1
    steps = len(prompt) - max(length, 1) + 1
    res = model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[None])), [prompt],
                         beam_size=1, max_length=2 * len(prompt) + 4,  # at most max_length / 2 steps (whisper.cc)
                         return_logits_vocab=True, suppress_tokens=[], suppress_blank=False)
    return np.stack([np.asarray(res[0].logits[0][i], dtype=np.float32) for i in range(steps)])


def faster_whisper_window(model, audio: str) -> np.ndarray:
    """The first 30-s window exactly as faster-whisper 1.2.1's transcribe() builds it (transcribe.py:
    features of the whole recording, content_frames = frames - 1, slice, pad_or_trim)."""
    from faster_whisper.audio import decode_audio, pad_or_trim
    from faster_whisper.feature_extractor import FeatureExtractor
    fe = FeatureExtractor(feature_size=model.n_mels)
    feats = fe(decode_audio(str(wc.cache_dir() / audio)))
    content = feats.shape[-1] - 1
    return np.ascontiguousarray(pad_or_trim(feats[:, :min(3000, content)]).astype(np.float32))


def compare(label: str, ours: np.ndarray, theirs: np.ndarray, logits: bool) -> None:
    ours = ours.astype(np.float64)
    theirs = theirs.astype(np.float64)
    if logits:  # CTranslate2 masks tokens its timestamp rules forbid with the lowest float; compare the rest
        ours, theirs = ours.reshape(-1, theirs.shape[-1]), theirs.reshape(-1, theirs.shape[-1])
        for step in range(theirs.shape[0]):
            compare_row(f"{label} [{step}]" if theirs.shape[0] > 1 else label, ours[step], theirs[step])
        return
    d = np.abs(ours - theirs)
    print(f"{label:34s} max|Δ| {d.max():.3e}  mean|Δ| {d.mean():.3e}  max|ref| {np.abs(theirs).max():.3e}"
          f"  exact {np.mean(d == 0) * 100:6.2f} %")


def compare_row(label: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    keep = theirs > -1e30
    ours, theirs = np.where(keep, ours, -np.inf), np.where(keep, theirs, -np.inf)
    d = np.abs(ours[keep] - theirs[keep])
    top_o, top_t = np.argsort(-ours)[:5], np.argsort(-theirs)[:5]
    print(f"{label:34s} max|Δ| {d.max():.3e}  mean|Δ| {d.mean():.3e}  exact {np.mean(d == 0) * 100:6.2f} %"
          f"  argmax {top_o[0]}/{top_t[0]} {'==' if top_o[0] == top_t[0] else '!='}"
          f"  top-2 margin {ours[top_o[0]] - ours[top_o[1]]:.4f}/{theirs[top_t[0]] - theirs[top_t[1]]:.4f}"
          f"  top5 overlap {len(set(top_o) & set(top_t))}/5")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--model", default="tiny.en", choices=list(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--audio", help="the recording (path under the cache) the dump was made from: also compare "
                                    "Earshot's mel with faster-whisper's features and run CTranslate2 on those")
    args = ap.parse_args()

    import ctranslate2

    mel_path = args.dir / "mel.f32"
    if not mel_path.exists():
        raise SystemExit(f"{mel_path} missing: run the Int8DumpTests debug test with EARSHOT_INT8_DUMP={args.dir}")
    model_dir = wc.cache_dir() / "models" / MODELS[args.model]
    prompt = [int(t) for t in (args.dir / "sot.txt").read_text().split()]
    sot = 50257 if args.model.endswith(".en") else 50258
    for tag, compute in COMPUTE.items():
        model = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type=compute,
                                           intra_threads=args.threads)
        mel = read_f32(mel_path).reshape(model.n_mels, -1)
        enc = np.asarray(model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])),
                                      to_cpu=True))[0]
        enc.astype("<f4").tofile(args.dir / f"ct2-encoder-{tag}.f32")
        logits = step_logits(model, enc, prompt, sot)
        logits.astype("<f4").tofile(args.dir / f"ct2-logits-{tag}.f32")
        print(f"== {tag} (CTranslate2 compute_type={compute!r}, prompt {prompt})")
        if args.audio:
            fw = faster_whisper_window(model, args.audio)
            if tag == "int8":
                compare("mel: Earshot vs faster-whisper", mel, fw, logits=False)
            fw_enc = np.asarray(model.encode(ctranslate2.StorageView.from_array(fw[None]), to_cpu=True))[0]
            compare("CT2 on Earshot mel vs on fw mel", logits, step_logits(model, fw_enc, prompt, sot), logits=True)
        ours_enc = args.dir / f"earshot-encoder-{tag}.f32"
        if ours_enc.exists():
            e = read_f32(ours_enc, enc.shape)
            compare("encoder output", e, enc, logits=False)
            compare("logits (own encoders)", read_f32(args.dir / f"earshot-logits-{tag}.f32"), logits, logits=True)
            # CTranslate2's decoder on Earshot's encoder output vs on its own: how much the encoder gap moves
            # the logits.
            compare("CT2 decoder: Earshot vs CT2 enc", step_logits(model, e, prompt, sot), logits, logits=True)
        ours_dec = args.dir / f"earshot-logits-ct2enc-{tag}.f32"
        if ours_dec.exists():
            compare("decoder only (both on CT2 enc)", read_f32(ours_dec), logits, logits=True)
        else:
            print("  (run the dump test again for the decoder-only comparison on CTranslate2's encoder output)")


if __name__ == "__main__":
    main()
