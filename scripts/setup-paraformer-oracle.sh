#!/usr/bin/env bash
# Creates the separate venv that regenerates the Paraformer oracle fixtures (scripts/oracle/paraformer_oracle.py):
#   ${EARSHOT_CACHE:-$HOME/.cache/earshot}/venv-funasr
# with FunASR 1.4.3 and PyTorch 2.13 (CPU), and makes sure the funasr 1.3.9 sdist (the paraformer-large
# configs, the 8404-token list and am.mvn the oracle builds its models from) is in $EARSHOT_CACHE/downloads.
# CI never runs this: torch is only needed to regenerate fixtures, which are committed.
# Idempotent: when the venv already holds exactly these pins (stamp file) and imports, nothing is done.
# Usage: scripts/setup-paraformer-oracle.sh            (prints the venv path on stdout)
#
# Why it is not a plain `pip install funasr`:
#  * funasr is installed --no-deps: its requirements pull in modelscope, transformers, umap-learn, … that
#    the Paraformer / BiCifParaformer / SeacoParaformer inference path never imports. EXTRA below is what
#    `from funasr import AutoModel` plus the three model modules, the SAN-M encoder, the CharTokenizer, the
#    WavFrontend and the post-processing actually import (found by importing them; funasr records failed
#    module imports in funasr.get_import_errors() and silently leaves the model unregistered).
#  * torchaudio: PyPI has no CPU build, and the wheel's compiled extension wants CUDA. It is installed
#    --no-deps and torchaudio/lib/*.so is deleted: FunASR 1.4.3 only uses the pure-Python
#    torchaudio.compliance.kaldi (funasr/frontends/wav_frontend.py:8). funasr >= 1.4.16 ships its own fbank.
#  * torch==2.13.0+cpu resolves from the package index configured for pip here.
set -euo pipefail
CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
VENV="$CACHE/venv-funasr"
STAMP="$VENV/.earshot-requirements"
SDIST="$CACHE/downloads/funasr-1.3.9.tar.gz"

TORCH="torch==2.13.0+cpu"
NODEPS="funasr==1.4.3
torchaudio==2.11.0"
# datasets/pyarrow: bench/check_labels.py loads corpus teacher labels as a Hugging Face audiofolder
# (datasets 4+ needs torchcodec for audio; pyarrow 18+ needs NumPy 2).
EXTRA="numpy==1.26.4
soundfile==0.14.0
PyYAML==6.0.4
omegaconf==2.4.0
tqdm==4.70.1
kaldiio==2.18.1
librosa==0.11.0
RapidFuzz==3.14.6
six==1.17.0
datasets==3.6.0
pyarrow==17.0.0"
# Transitive dependencies, pinned to the set the fixtures were made with (pip freeze of the reference venv).
CONSTRAINTS="audioread==3.1.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
decorator==5.3.1
filelock==4.3.1
fsspec==2025.3.0
idna==3.20
Jinja2==3.1.6
joblib==1.6.0
lazy-loader==0.6
llvmlite==0.50.0
MarkupSafe==3.0.4
mpmath==1.3.0
msgpack==1.2.4
networkx==3.6.1
numba==0.68.1
packaging==26.4
platformdirs==4.14.8
pooch==1.9.0
pycparser==3.12
requests==2.34.2
scikit-learn==1.9.1
scipy==1.17.1
soxr==1.1.0
sympy==1.14.0
threadpoolctl==3.8.0
typing_extensions==4.16.0
urllib3==2.8.0"
IMPORTS='import torch, torchaudio.compliance.kaldi, funasr, soundfile, yaml
from funasr import AutoModel
from funasr.register import tables
import funasr.models.paraformer.model, funasr.models.bicif_paraformer.model, funasr.models.seaco_paraformer.model
for name in ("Paraformer", "BiCifParaformer", "SeacoParaformer"):
    assert tables.model_classes.get(name) is not None, (name, funasr.get_import_errors())'

want="$TORCH
--
$NODEPS
--
$EXTRA
--
$CONSTRAINTS"

fetch_sdist() {
  [ -s "$SDIST" ] && return 0
  mkdir -p "$CACHE/downloads"
  echo "downloading the funasr 1.3.9 sdist (47 MB) to $CACHE/downloads" >&2
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary funasr \
    -d "$CACHE/downloads" funasr==1.3.9
}

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   "$VENV/bin/python" -c "$IMPORTS" >/dev/null 2>&1; then
  fetch_sdist
  echo "$VENV"
  exit 0
fi

if [ -n "${EARSHOT_PYTHON:-}" ]; then PY="$EARSHOT_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then PY=python3.11
else PY=python3
fi

mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating venv at $VENV with $($PY -V 2>&1)" >&2
  "$PY" -m venv "$VENV"
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$CONSTRAINTS" > "$tmp/constraints.txt"
printf '%s\n' "$EXTRA" > "$tmp/extra.txt"
printf '%s\n' "$NODEPS" > "$tmp/nodeps.txt"
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
echo "installing $TORCH into $VENV" >&2
"${pip[@]}" "$TORCH" -c "$tmp/constraints.txt"
echo "installing funasr and torchaudio without dependencies, and what the Paraformer path imports" >&2
"${pip[@]}" --no-deps -r "$tmp/nodeps.txt"
"${pip[@]}" -r "$tmp/extra.txt" -c "$tmp/constraints.txt"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -f "$site"/torchaudio/lib/*.so
"$VENV/bin/python" -c "$IMPORTS" >&2
printf '%s' "$want" > "$STAMP"
fetch_sdist
echo "$VENV"
