#!/usr/bin/env bash
# Fetches FunASR's own websocket client, unchanged, for the `earshot serve` tests:
#   ${EARSHOT_CACHE:-$HOME/.cache/earshot}/funasr-client/funasr_wss_client.py
# from the funasr 1.3.9 sdist on PyPI (runtime/python/websocket/funasr_wss_client.py; the same sdist
# scripts/fetch-assets.sh takes the Mandarin clips from). Its only import beyond the standard library is
# `websockets` (pyaudio is imported only for microphone input), which scripts/setup-venv.sh installs.
# Idempotent. Prints the client's path.
set -euo pipefail
CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
DL="$CACHE/downloads"
OUT="$CACHE/funasr-client"
mkdir -p "$DL"
if [ ! -f "$OUT/funasr_wss_client.py" ]; then
  if ! compgen -G "$DL/funasr-1.3.9.tar.gz" >/dev/null; then
    echo "fetching the funasr 1.3.9 sdist (PyPI, 47 MB) for its websocket client" >&2
    python3 -m pip download --quiet --no-deps --no-binary funasr -d "$DL" funasr==1.3.9
  fi
  tmp=$(mktemp -d)
  tar -xzf "$DL/funasr-1.3.9.tar.gz" -C "$tmp" funasr-1.3.9/runtime/python/websocket/funasr_wss_client.py \
    funasr-1.3.9/runtime/docs/websocket_protocol.md
  mkdir -p "$OUT.tmp"
  cp "$tmp"/funasr-1.3.9/runtime/python/websocket/funasr_wss_client.py "$tmp"/funasr-1.3.9/runtime/docs/websocket_protocol.md "$OUT.tmp/"
  rm -rf "$tmp" "$OUT"; mv "$OUT.tmp" "$OUT"
fi
echo "$OUT/funasr_wss_client.py"
