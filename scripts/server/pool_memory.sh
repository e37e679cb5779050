#!/usr/bin/env bash
# What two `earshot serve` processes on the same model share: /proc/PID/smaps_rollup (Rss, Pss, shared and
# private pages) and the model.bin mapping's share, after one request each. For deploy/README.md.
# Usage: scripts/server/pool_memory.sh PRECISION MODEL_DIR [EARSHOT_BINARY]   (ports 18201, 18202)
set -euo pipefail
prec=$1; model=$2; bin=${3:-.build/release/earshot}
clip="${EARSHOT_CACHE:-$HOME/.cache/earshot}/audio/cards/005.wav"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for port in 18201 18202; do
  "$bin" serve --port $port --precision "$prec" --model "$model" >/dev/null 2>&1 &
  pids+=($!)
done
for port in 18201 18202; do
  for _ in $(seq 1 240); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/health)" = 200 ] && break; sleep 0.5
  done
  curl -s -F file=@"$clip" -F model=whisper-1 http://127.0.0.1:$port/v1/audio/transcriptions >/dev/null
done
for pid in "${pids[@]}"; do
  echo "pid $pid ($prec, $(basename "$model")):"
  grep -E '^(Rss|Pss|Pss_Anon|Pss_File|Shared_Clean|Private_Clean|Private_Dirty):' /proc/$pid/smaps_rollup | tr -s ' ' | tr '\n' ' '; echo
  awk -v f="$(cd "$model" && pwd)/model.bin" '/^[0-9a-f]+-[0-9a-f]+ /{inm=($NF==f)} inm && /^(Rss|Pss|Shared_Clean):/{s[$1]+=$2}
       END{printf "  model.bin mapping: Rss %d kB, Pss %d kB, Shared_Clean %d kB\n", s["Rss:"], s["Pss:"], s["Shared_Clean:"]}' /proc/$pid/smaps
done
