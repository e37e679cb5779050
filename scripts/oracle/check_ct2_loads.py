#!/usr/bin/env python3
"""CTranslate2 / faster-whisper as the oracle for `earshot quantize` and `earshot prune`.

  load MODEL_DIR CLIP [--compute-type default] [--reference TEXT]
      faster-whisper 1.2.1 loads MODEL_DIR (WhisperModel(MODEL_DIR, device="cpu", compute_type=...,
      cpu_threads=2)) and transcribes CLIP greedily (beam_size=1, temperature=0). Prints one JSON line:
      {"text", "model_compute_type" (what CTranslate2 runs), "wer" (if --reference; openai-whisper's English
      normaliser + jiwer, as bench/run.py)}. Exit status 1 with the exception on stderr if loading fails.

  convert SRC_DIR OUT_MODEL_BIN TYPE
      ctranslate2's own Python writer on the tensors of SRC_DIR/model.bin: builds a WhisperSpec with the same
      layer/head counts, sets every stored tensor and alias, runs ModelSpec._quantize(TYPE) and
      ModelSpec._serialize(OUT_MODEL_BIN) — the reference `earshot quantize` must match byte for byte.

Run with the venv of scripts/setup-venv.sh (~/.cache/earshot/venv/bin/python).
"""
from __future__ import annotations

import argparse
import json
import re
import struct
import sys
from pathlib import Path

DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


def read_model_bin(path: Path):
    """(spec_name, revision, [(name, numpy array)], [(alias, target)]) of a version-6 model.bin."""
    import numpy as np
    data = path.read_bytes()
    off = 0

    def u(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, data, off)[0]
        off += struct.calcsize(fmt)
        return v

    def s():
        nonlocal off
        n = u("H")
        t = data[off:off + n - 1].decode("utf-8")
        off += n
        return t

    version = u("I")
    if version != 6:
        raise SystemExit(f"{path}: binary version {version}, this script reads 6")
    spec, revision = s(), u("I")
    variables = []
    for _ in range(u("I")):
        name = s()
        shape = [u("I") for _ in range(u("B"))]
        dtype = DTYPES[u("B")]
        nbytes = u("I")
        if dtype == "bfloat16":
            raise SystemExit("bfloat16 sources are not supported by this oracle")
        arr = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=off).reshape(shape)
        off += nbytes
        variables.append((name, arr.copy()))
    aliases = [(s(), s()) for _ in range(u("I"))]
    return spec, revision, variables, aliases


def convert(src: Path, out: Path, quantization: str) -> None:
    from ctranslate2.specs import model_spec, whisper_spec
    spec_name, _, variables, aliases = read_model_bin(src / "model.bin")
    assert spec_name == "WhisperSpec", spec_name
    names = dict(variables)

    def layers(prefix):
        return len({m.group(1) for n in names for m in [re.match(prefix + r"/layer_(\d+)/", n)] if m})

    spec = whisper_spec.WhisperSpec(layers("encoder"), int(names["encoder/num_heads"]),
                                    layers("decoder"), int(names["decoder/num_heads"]))
    for name, value in [*[(n, model_spec.NumpyVariable(a)) for n, a in variables], *aliases]:
        scope, attr = model_spec._parent_scope(name)
        setattr(model_spec.index_spec(spec, scope), attr, value)
    # Attributes newer ctranslate2 versions add (e.g. decoder/alibi_use_positive_positions) but the source
    # file lacks: the same content means leaving them out.
    stored = set(names) | {a for a, _ in aliases}
    for name, value in spec.variables().items():
        if name not in stored and value is not None and not isinstance(value, model_spec.Variable):
            scope, attr = model_spec._parent_scope(name)
            setattr(model_spec.index_spec(spec, scope), attr, model_spec.OPTIONAL)
    unset = [n for n, v in spec.variables().items() if v is None]
    if unset:
        raise SystemExit(f"tensors missing from {src}: {unset[:5]}")
    spec._quantize(quantization)
    spec._serialize(str(out))


def load(model: str, clip: str, compute_type: str, reference: str | None) -> None:
    from faster_whisper import WhisperModel
    m = WhisperModel(model, device="cpu", compute_type=compute_type, cpu_threads=2)
    segments, _ = m.transcribe(clip, beam_size=1, best_of=1, temperature=0.0)
    text = "".join(s.text for s in segments).strip()
    result = {"text": text, "model_compute_type": m.model.compute_type}
    if reference is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import whisper_common as wc
        import jiwer
        result["wer"] = jiwer.wer(wc.normalize(reference, "en"), wc.normalize(text, "en"))
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("load")
    a.add_argument("model")
    a.add_argument("clip")
    a.add_argument("--compute-type", default="default")
    a.add_argument("--reference")
    c = sub.add_parser("convert")
    c.add_argument("src", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("quantization")
    args = ap.parse_args()
    if args.command == "load":
        load(args.model, args.clip, args.compute_type, args.reference)
    else:
        convert(args.src, args.out, args.quantization)


if __name__ == "__main__":
    main()
