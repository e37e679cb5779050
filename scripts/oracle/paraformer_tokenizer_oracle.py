#!/usr/bin/env python3
"""Fixture for Earshot's `ParaformerModel.tokenize`: FunASR 1.4.3's `CharTokenizer.encode` (text2tokens +
tokens2ids) on the committed SMALL model directories, with seg_dict (seaco-small) and without (paraformer-small).
Writes Tests/EarshotFunASRTests/Fixtures/paraformer_tokenize.json: {"<model>": [{"text", "ids"}]}.
Usage: $(scripts/setup-paraformer-oracle.sh)/bin/python scripts/oracle/paraformer_tokenizer_oracle.py
"""
import json
import os

from funasr.tokenizer.char_tokenizer import CharTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIX = os.path.join(ROOT, "Tests", "EarshotFunASRTests", "Fixtures")
TEXTS = ["了阼 these", "dotting 了", " 坎喵曰鼠  辑彘斜 ", "and do ing", "Dotting", "xyz 了", "了了 12", "!?", ""]


def main():
    out = {}
    for name in ("seaco-small", "paraformer-small"):
        d = os.path.join(FIX, "paraformer", name)
        seg = os.path.join(d, "seg_dict")
        tok = CharTokenizer(token_list=os.path.join(d, "tokens.json"),
                            seg_dict=seg if os.path.exists(seg) else None)
        out[name] = [{"text": t, "ids": [int(i) for i in tok.encode(t)]} for t in TEXTS]
    with open(os.path.join(FIX, "paraformer_tokenize.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(json.dumps(out, ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
