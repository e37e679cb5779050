"""Shared helpers for the Whisper oracle (scripts/oracle/whisper_oracle.py) and the benchmark (bench/run.py).

- cache_dir(): ${EARSHOT_CACHE:-$HOME/.cache/earshot}
- load_recordings(): the reference set, bench/recordings.json
- english_normalizer(): openai-whisper's EnglishTextNormalizer, loaded from the openai-whisper 20250625 sdist
  that scripts/fetch-assets.sh downloads (only whisper/normalizers/ is extracted, so torch is not needed; it
  imports `regex` and `more_itertools`, which scripts/setup-venv.sh installs).
- wer()/cer(): jiwer 4.0 corpus-level error rates on normalised text (peers.md §7: normalise both sides with
  Whisper's normaliser, then jiwer.wer).

Normalisation used everywhere (one normaliser for reference and hypothesis, for every system):
  English:  whisper EnglishTextNormalizer, then jiwer.wer (its default transform only splits on whitespace).
  Mandarin: whisper BasicTextNormalizer(), all whitespace removed, then jiwer.cer (character error rate).
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORDINGS_JSON = REPO / "bench" / "recordings.json"
WHISPER_SDIST = "openai_whisper-20250625.tar.gz"
WHISPER_SDIST_ROOT = "openai_whisper-20250625"


def cache_dir() -> Path:
    return Path(os.environ.get("EARSHOT_CACHE", str(Path.home() / ".cache" / "earshot")))


def load_recordings() -> list[dict]:
    with open(RECORDINGS_JSON, encoding="utf-8") as f:
        return json.load(f)["recordings"]


_normalizers = None


def _whisper_normalizers():
    """Import whisper/normalizers from the openai-whisper sdist as the package `earshot_whisper_normalizers`."""
    global _normalizers
    if _normalizers is not None:
        return _normalizers
    cache = cache_dir()
    dest = cache / "whisper-normalizers" / WHISPER_SDIST_ROOT / "normalizers"
    if not (dest / "english.json").is_file():
        sdist = None
        for d in (cache / "downloads", cache / "dl"):
            if (d / WHISPER_SDIST).is_file():
                sdist = d / WHISPER_SDIST
                break
        if sdist is None:
            raise SystemExit(f"{WHISPER_SDIST} not found under {cache}/downloads: run scripts/fetch-assets.sh audio")
        tmp = dest.parent / "normalizers.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        prefix = f"{WHISPER_SDIST_ROOT}/whisper/normalizers/"
        with tarfile.open(sdist) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.startswith(prefix) and "/" not in m.name[len(prefix):]:
                    with tar.extractfile(m) as src:
                        (tmp / m.name[len(prefix):]).write_bytes(src.read())
        if dest.exists():
            import shutil
            shutil.rmtree(dest)
        tmp.rename(dest)
    name = "earshot_whisper_normalizers"
    spec = importlib.util.spec_from_file_location(name, dest / "__init__.py",
                                                  submodule_search_locations=[str(dest)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _normalizers = mod
    return mod


_english = None
_basic = None


def english_normalizer():
    global _english
    if _english is None:
        _english = _whisper_normalizers().EnglishTextNormalizer()
    return _english


def normalize(text: str, language: str) -> str:
    """The one normaliser: English → Whisper EnglishTextNormalizer; zh → BasicTextNormalizer, no spaces."""
    global _basic
    if language == "en":
        return english_normalizer()(text)
    if _basic is None:
        _basic = _whisper_normalizers().BasicTextNormalizer()
    return "".join(_basic(text).split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus-level WER (jiwer sums S/D/I/H over the pairs) of already-normalised English strings."""
    import jiwer
    return float(jiwer.wer(list(references), list(hypotheses)))


def cer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer
    return float(jiwer.cer(list(references), list(hypotheses)))


def error_rate(reference: str, hypothesis: str, language: str) -> dict:
    """{'metric': 'wer'|'cer', 'value': float, 'reference_normalised', 'hypothesis_normalised'}."""
    ref = normalize(reference, language)
    hyp = normalize(hypothesis, language)
    if language == "en":
        return {"metric": "wer", "value": wer([ref], [hyp]), "reference_normalised": ref, "hypothesis_normalised": hyp}
    return {"metric": "cer", "value": cer([ref], [hyp]), "reference_normalised": ref, "hypothesis_normalised": hyp}
