#!/usr/bin/env python3
"""Fixture for SeACo-Paraformer with more hotwords than FunASR's nfilter (50), so its attention-score filter (ASF,
`seaco_paraformer/model.py:_seaco_decode_with_ASF` → `seaco_decoder.forward_asf6`) picks the hotwords used.

Runs FunASR 1.4.3 (`AutoModel`, the venv of scripts/setup-paraformer-oracle.sh) on the committed SMALL SeACo model
(Tests/EarshotFunASRTests/Fixtures/paraformer/seaco-small, written by scripts/oracle/paraformer_oracle.py) with 200
two-character hotwords made of the model's CJK tokens (deterministic), one clip at a time (batch_size 1), and writes
Tests/EarshotFunASRTests/Fixtures/paraformer_seaco_asf.json: {"hotwords": str, "items": [{"key", "text",
"timestamp", "asf_scores", "asf_keep"}], "items_without_hotwords": [...]}. `asf_scores` is FunASR's
`hotword_scores` (forward_asf6's attention matrix summed over heads and query rows, item 0), `asf_keep` the
`add_filter` indices it keeps (topk, then the last entry, `[<s>]`), captured by wrapping the model instance's
`seaco_decoder.forward_asf6`.
Usage: $(scripts/setup-paraformer-oracle.sh)/bin/python scripts/oracle/paraformer_asf_oracle.py
"""
import json
import os
import sys

import soundfile as sf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODEL = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "paraformer", "seaco-small")
OUT = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures", "paraformer_seaco_asf.json")
CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
CLIPS = [("zh", "audio/zh/asr_example.wav"), ("en", "audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")]
COUNT = 200


def main():
    from funasr import AutoModel
    am = AutoModel(model=MODEL, device="cpu", ncpu=2, disable_update=True, disable_pbar=True, disable_log=True,
                   hub="ms")
    import torch
    captured = []
    decoder = am.model.seaco_decoder
    original = decoder.forward_asf6

    def forward_asf6(*args, **kwargs):
        attn = original(*args, **kwargs)
        scores = attn[0].sum(0).sum(0)
        count = scores.shape[0]
        keep = torch.topk(scores, min(50, count - 1))[1].tolist() + [count - 1]
        captured.append({"asf_scores": scores.tolist(), "asf_keep": keep})
        return attn

    decoder.forward_asf6 = forward_asf6
    tokens = json.load(open(os.path.join(MODEL, "tokens.json"), encoding="utf-8"))
    cjk = [t for t in tokens if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    words = [cjk[i % len(cjk)] + cjk[(7 * i + 3) % len(cjk)] for i in range(COUNT)]
    hotwords = " ".join(words)
    out = {"source": "funasr AutoModel on Fixtures/paraformer/seaco-small", "hotwords": hotwords, "items": [],
           "items_without_hotwords": []}
    for key, rel in CLIPS:
        path = os.path.join(CACHE, rel)
        if not os.path.exists(path):
            sys.exit(f"{path} missing; run scripts/fetch-assets.sh")
        wav, sr = sf.read(path, dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        for field, cfg in (("items", {"hotword": hotwords}), ("items_without_hotwords", {})):
            captured.clear()
            res = am.generate(input=[wav], batch_size=1, **cfg)[0]
            item = {"key": key, "text": res["text"], "timestamp": [list(map(int, t)) for t in res["timestamp"]]}
            if captured:
                item.update(captured[0])
            out[field].append(item)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
