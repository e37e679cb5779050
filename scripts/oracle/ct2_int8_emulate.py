#!/usr/bin/env python3
"""numpy emulation of CTranslate2 4.8's CPU int8 Whisper encoder, to test hypotheses about which step makes
Earshot's int8 encoder output differ from CTranslate2's (see scripts/oracle/ct2_int8_compare.py, which writes
DIR/mel.f32 via the Earshot dump test and DIR/ct2-encoder-int8.f32).

Rules emulated (CTranslate2 sources, tag v4.8.1; the 4.8.5 wheel's AVX2 kernels checked by disassembly):
  weights   fp16 -> fp32, per row s = 127/max|w|, q = rint(w*s)    (models/model.cc ensure_dtype, cpu/kernels.cc)
  convs     kept float (model.cc set_compute_type: CT2_WITH_DNNL -> float_dtype)
  inputs    per row s = 127/max|x|, u = rint(fma(x, s, 128)) as u8 (layers/common.cc Dense, shift_to_uint8)
  GEMM      u8 x s8 -> s32 plus compensation -128*sum(q) (oneDNN gemm_u8s8s32, exact in int32)
  output    (acc * (1/s_x)) / s_w + bias, activation, then + residual (kernels.cc dequantize_gemm_output_row)
Float steps (layer norm, attention, GELU, convolutions) run in float64 and are rounded to fp32 afterwards, so
they match CTranslate2 only to ~1e-6; the int8 steps are exact.

Usage: ~/.cache/earshot/venv/bin/python scripts/oracle/ct2_int8_emulate.py DIR [--model tiny.en]
       [--float]          every Dense in fp32 instead (checks the float steps against compute_type float32)
       [--perturb 1e-7]   relative ±noise on the encoder input: how much one ulp moves the int8 output
"""
from __future__ import annotations

import argparse
import struct
import sys
from math import erf, sqrt
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import whisper_common as wc  # noqa: E402

FLOAT = False  # --float: every Dense in fp32 (checks the float steps against compute_type float32)
MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_model(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def string():
        nonlocal pos
        (n,) = take("H")
        s = data[pos:pos + n - 1].decode()
        pos += n
        return s

    (version,) = take("I")
    string()
    take("I")
    (count,) = take("I")
    out = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        shape = take("I" * rank)
        (dtype, nbytes) = take("BI")
        out[name] = np.frombuffer(data, dtype=DTYPES[dtype], count=int(np.prod(shape)), offset=pos).reshape(shape)
        pos += nbytes
    return out


def f32(x):
    return np.asarray(x, dtype=np.float64).astype(np.float32)


def gelu(x):
    v = np.vectorize(lambda t: 0.5 * t * (1 + erf(t / sqrt(2))))
    return f32(v(x.astype(np.float64)))


def gelu_fast(x):
    from scipy.special import erf as serf  # noqa: F401 (optional)
    return f32(0.5 * x * (1 + serf(x.astype(np.float64) / np.sqrt(2))))


def quantize_rows(x: np.ndarray, shift: bool):
    x = x.astype(np.float32)
    amax = np.abs(x).max(axis=1)
    s = np.where(amax != 0, np.float32(127) / np.where(amax != 0, amax, 1), np.float32(1)).astype(np.float32)
    prod = x.astype(np.float64) * s[:, None].astype(np.float64)
    if shift:
        u = np.rint((prod + 128).astype(np.float32))  # fma: one rounding of x*s+128
        return u.astype(np.int64), s
    return np.rint(prod.astype(np.float32)).astype(np.int64), s


class Dense:
    def __init__(self, w, b):
        w32 = w.astype(np.float32)
        self.w = w32
        self.q, self.s = quantize_rows(w32, shift=False)
        self.b = None if b is None else b.astype(np.float32)
        self.comp = -128 * self.q.sum(axis=1)

    def __call__(self, x, act=None):
        if FLOAT:
            y = f32(x.astype(np.float64) @ self.w.astype(np.float64).T + (0 if self.b is None else self.b))
            return y if act is None else act(y)
        u, sx = quantize_rows(x, shift=True)
        acc = u @ self.q.T
        acc = acc + self.comp[None, :]
        r = np.float32(1) / sx
        y = (acc.astype(np.float32) * r[:, None]).astype(np.float32)
        y = (y / self.s[None, :]).astype(np.float32)
        if self.b is not None:
            y = (y + self.b[None, :]).astype(np.float32)
        if act is not None:
            y = act(y)
        return y


def layer_norm(x, g, b):
    x = x.astype(np.float64)
    m = x.mean(axis=1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=1, keepdims=True)
    return f32((x - m) / np.sqrt(v + 1e-5) * g.astype(np.float64) + b.astype(np.float64))


def conv1d(x, w, b, stride):
    # x [cin, T], w [cout, cin, 3] float; padding 1.
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1)))
    t_out = (x.shape[1] + 2 - 3) // stride + 1
    cols = np.stack([xp[:, k:k + stride * t_out:stride] for k in range(3)], axis=2)  # [cin, t, 3]
    cols = cols.transpose(1, 0, 2).reshape(t_out, -1)
    return f32(cols @ w.astype(np.float64).reshape(w.shape[0], -1).T + b.astype(np.float64))


def attention(qkv, heads):
    t, d3 = qkv.shape
    d = d3 // 3
    hd = d // heads
    q, k, v = (qkv[:, i * d:(i + 1) * d].astype(np.float64) for i in range(3))
    out = np.zeros((t, d))
    for h in range(heads):
        sl = slice(h * hd, (h + 1) * hd)
        s = (q[:, sl] / np.sqrt(hd)) @ k[:, sl].T
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        out[:, sl] = p @ v[:, sl]
    return f32(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--model", default="tiny.en", choices=list(MODELS))
    ap.add_argument("--float", action="store_true")
    ap.add_argument("--perturb", type=float, default=0, help="relative noise on the encoder input (sensitivity)")
    args = ap.parse_args()
    global FLOAT
    FLOAT = args.float
    tag = "fp32" if args.float else "int8"
    import json
    model_dir = wc.cache_dir() / "models" / MODELS[args.model]
    v = read_model(model_dir / "model.bin")
    heads = json.loads((model_dir / "config.json").read_text()).get("num_heads")
    layers = sorted({int(n.split("/")[1][6:]) for n in v if n.startswith("encoder/layer_") and n.split("/")[1][6:].isdigit()})
    d = v["encoder/conv1/bias"].shape[0]
    heads = heads or d // 64
    mel = np.fromfile(args.dir / "mel.f32", dtype="<f4").reshape(-1, 3000)
    try:
        from scipy.special import erf as _  # noqa: F401
        act = gelu_fast
    except ImportError:
        act = gelu
    x = act(conv1d(mel, v["encoder/conv1/weight"], v["encoder/conv1/bias"], 1))
    x = act(conv1d(x.T, v["encoder/conv2/weight"], v["encoder/conv2/bias"], 2))
    x = f32(x + v["encoder/position_encodings/encodings"].astype(np.float32))
    if args.perturb:
        noise = np.random.RandomState(0).choice([-1.0, 1.0], size=x.shape) * args.perturb
        x = f32(x.astype(np.float64) * (1 + noise))
    ref = {}
    for name in (f"ct2-encoder-{tag}.f32", f"earshot-encoder-{tag}.f32"):
        p = args.dir / name
        if p.exists():
            ref[name] = np.fromfile(p, dtype="<f4").reshape(x.shape)
    for i in layers:
        p = f"encoder/layer_{i}"
        dn = lambda n: Dense(v[f"{p}/{n}/weight"], v.get(f"{p}/{n}/bias"))  # noqa: E731
        h = layer_norm(x, v[f"{p}/self_attention/layer_norm/gamma"], v[f"{p}/self_attention/layer_norm/beta"])
        qkv = dn("self_attention/linear_0")(h)
        a = attention(qkv, heads)
        x = f32(x + dn("self_attention/linear_1")(a))
        h = layer_norm(x, v[f"{p}/ffn/layer_norm/gamma"], v[f"{p}/ffn/layer_norm/beta"])
        h = dn("ffn/linear_0")(h, act=act)
        x = f32(x + dn("ffn/linear_1")(h))
        print(f"layer {i} done", file=sys.stderr)
    x = layer_norm(x, v["encoder/layer_norm/gamma"], v["encoder/layer_norm/beta"])
    for name, r in ref.items():
        dlt = np.abs(x.astype(np.float64) - r)
        print(f"emulation vs {name:26s} max|Δ| {dlt.max():.3e} mean|Δ| {dlt.mean():.3e}")
    x.astype("<f4").tofile(args.dir / f"emulated-encoder-{tag}{'-perturbed' if args.perturb else ''}.f32")


if __name__ == "__main__":
    main()
