#!/usr/bin/env python3
"""Fixture for Earshot's port of FunASR's text post-processing (sentence_postprocess / abbr_dispose).

Runs FunASR's own `funasr/utils/postprocess_utils.py` (pure Python; no torch needed), taken from the funasr
sdist in $EARSHOT_CACHE/downloads (default ~/.cache/earshot/downloads/funasr-1.3.9.tar.gz), on token lists
that exercise every branch: all-CJK, all-alpha with `@@` BPE pieces, mixed CJK/English, single-letter
abbreviations, digits, apostrophes, special tokens, each with and without timestamps.

Writes Tests/EarshotFunASRTests/Fixtures/paraformer_text_postprocess.json:
  {"source": ..., "cases": [{"tokens": [...], "timestamps": [[s,e],...] | null,
                              "text": str, "out_timestamps": [[s,e],...] | null, "words": [...]}]}
Usage: python3 scripts/oracle/paraformer_text_oracle.py
"""
import importlib.util
import json
import os
import tarfile
import tempfile

CACHE = os.environ.get("EARSHOT_CACHE", os.path.expanduser("~/.cache/earshot"))
SDIST = os.path.join(CACHE, "downloads", "funasr-1.3.9.tar.gz")
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EarshotFunASRTests", "Fixtures",
                   "paraformer_text_postprocess.json")

CASES = [
    ["欢", "迎", "大", "家"],
    ["he@@", "llo", "wor@@", "ld"],
    ["hello", "world"],
    ["你", "好", "he@@", "llo", "world", "再", "见"],
    ["a", "b", "c", "是", "什", "么"],
    ["我", "用", "a", "p", "p", "和", "i", "o", "s"],
    ["x", "y", "hello", "z"],
    ["<s>", "今", "天", "<unk>", "好", "</s>"],
    ["1", "2", "3", "点"],
    ["it", "'", "s", "fine"],
    ["don", "'", "t"],
    ["最", "近", "un@@", "believ@@", "able"],
    ["la@@", "st"],
    ["end", "with@@"],
    ["中", "文", "english", "混", "合", "te@@", "xt", "结", "束"],
    ["g", "p", "u"],
    ["。", "你", "好"],
    [],
]


def main():
    with tarfile.open(SDIST) as tar, tempfile.TemporaryDirectory() as tmp:
        member = next(m for m in tar.getmembers() if m.name.endswith("funasr/utils/postprocess_utils.py"))
        tar.extract(member, tmp)
        path = os.path.join(tmp, member.name)
        spec = importlib.util.spec_from_file_location("postprocess_utils", path)
        pp = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pp)
        cases = []
        for tokens in CASES:
            text, words = pp.sentence_postprocess(list(tokens))
            cases.append({"tokens": tokens, "timestamps": None, "text": text, "out_timestamps": None,
                          "words": words})
            # Timestamps as ts_prediction_lfr6_standard returns them: one [start_ms, end_ms] per token
            # (special tokens are filtered before it in the model, so only the plain lists get them).
            if not any(t in ("<s>", "</s>", "<unk>") for t in tokens):
                stamps = [[100 * i + 10, 100 * i + 90] for i in range(len(tokens))]
                text, out_ts, words = pp.sentence_postprocess(list(tokens), [list(s) for s in stamps])
                cases.append({"tokens": tokens, "timestamps": stamps, "text": text, "out_timestamps": out_ts,
                              "words": words})
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"source": os.path.basename(SDIST) + ":funasr/utils/postprocess_utils.py", "cases": cases}, f,
                  ensure_ascii=False)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
