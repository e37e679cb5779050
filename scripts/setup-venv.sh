#!/usr/bin/env bash
# Creates the Python venv that the oracle scripts (scripts/oracle/), the benchmark harness (bench/) and the
# fixture generators use, with pinned versions:
#   ${EARSHOT_CACHE:-$HOME/.cache/earshot}/venv
# Idempotent: when the venv already holds exactly these pins (stamp file) and imports, nothing is done.
# Python: $EARSHOT_PYTHON if set, else python3.11, else python3 (numpy 1.26.4 needs Python 3.9–3.12).
# Usage: scripts/setup-venv.sh            (prints the venv path on stdout)
set -euo pipefail
CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
VENV="$CACHE/venv"
STAMP="$VENV/.earshot-requirements"

# Top-level packages. ctranslate2 is pinned to the version faster-whisper 1.2.1 was verified with here.
# openai is the official SDK the `earshot serve` test drives unchanged (scripts/oracle/openai_client_check.py).
# websockets is what FunASR's own websocket client (funasr_wss_client.py, scripts/fetch-funasr-client.sh) imports.
# regex and more-itertools are what openai-whisper's text normaliser imports (it is loaded from the
# openai-whisper sdist at run time, without torch: see scripts/oracle/whisper_common.py).
REQUIREMENTS="faster-whisper==1.2.1
ctranslate2==4.8.5
funasr-onnx==0.4.3
onnxruntime==1.32.0
numpy==1.26.4
soundfile==0.14.0
jiwer==4.0.0
regex==2026.11.19
more-itertools==11.2.1
openai==3.57.0
websockets==17.4"

# Transitive dependencies, pinned to the set the fixtures were made with (pip freeze of the reference venv),
# so that a fresh venv resolves to the same thing. Used as a constraints file: anything not needed is ignored.
CONSTRAINTS="annotated-types==0.8.0
anyio==4.16.0
audioread==3.1.0
av==18.1.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
cloudpickle==3.1.3
decorator==5.3.1
filelock==4.3.1
flatbuffers==25.12.19
fsspec==2026.9.0
h11==0.16.0
hf-xet==1.8.0
httpcore2==2.16.2
httpx2==2.16.2
huggingface_hub==2.4.0
idna==3.20
jieba==0.42.1
jiter==0.19.0
joblib==1.6.0
kaldi_native_fbank==1.23.0
lazy-loader==0.6
librosa==0.11.0
llvmlite==0.50.0
msgpack==1.2.4
narwhals==2.29.0
numba==0.68.1
packaging==26.4
platformdirs==4.14.8
pooch==1.9.0
protobuf==7.36.2
pycparser==3.12
pydantic==2.14.4
pydantic_core==2.50.5
PyYAML==6.0.4
RapidFuzz==3.14.6
requests==2.34.2
scikit-learn==1.9.1
scipy==1.17.1
sentencepiece==0.2.3
sniffio==1.3.1
soxr==1.1.0
threadpoolctl==3.8.0
tokenizers==0.23.3
tqdm==4.70.1
truststore==0.10.5
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0"

want="$REQUIREMENTS
--
$CONSTRAINTS"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   "$VENV/bin/python" -c 'import faster_whisper, ctranslate2, funasr_onnx, onnxruntime, numpy, soundfile, jiwer, regex, more_itertools, openai, websockets' \
     >/dev/null 2>&1; then
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
printf '%s\n' "$REQUIREMENTS" > "$tmp/requirements.txt"
printf '%s\n' "$CONSTRAINTS" > "$tmp/constraints.txt"
echo "installing pinned packages into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$tmp/requirements.txt" -c "$tmp/constraints.txt"
"$VENV/bin/python" -c 'import faster_whisper, ctranslate2, funasr_onnx, onnxruntime, numpy, soundfile, jiwer, regex, more_itertools, openai, websockets'
printf '%s' "$want" > "$STAMP"
echo "$VENV"
