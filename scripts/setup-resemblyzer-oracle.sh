#!/usr/bin/env bash
# Installs resemblyzer 0.1.4 and webrtcvad 2.0.10 (built from source; needs gcc and Python headers) with
# --no-deps into $EARSHOT_CACHE/resemblyzer-py. Their dependencies (torch CPU, librosa, numpy, scipy) come from
# the FunASR oracle venv (scripts/setup-paraformer-oracle.sh). Prints the PYTHONPATH to use:
#   PYTHONPATH=$(scripts/setup-resemblyzer-oracle.sh) $EARSHOT_CACHE/venv-funasr/bin/python scripts/oracle/resemblyzer_oracle.py
set -euo pipefail
CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
TARGET="$CACHE/resemblyzer-py"
if [ ! -f "$TARGET/resemblyzer/voice_encoder.py" ] || [ ! -f "$TARGET/webrtcvad.py" ]; then
  "$(dirname "$0")/fetch-assets.sh" models >/dev/null
  "$CACHE/venv-funasr/bin/pip" install --quiet --no-deps --target "$TARGET" \
    "$(compgen -G "$CACHE/downloads/Resemblyzer-0.1.4-*.whl" | head -n1)" webrtcvad==2.0.10 >&2
fi
echo "$TARGET"
