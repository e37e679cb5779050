#!/usr/bin/env bash
# Kernel benchmark: Earshot GEMM (fp32, fp16-weight, int8) vs OpenBLAS (numpy's bundled scipy-openblas,
# AVX-512 core forced with OPENBLAS_CORETYPE=SkylakeX) on the Whisper shapes, in alternating rounds so
# both see the same machine load. Usage: bench/kernels/run.sh [rounds (3)] [threads (1,2)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${1:-3}"
threads="${2:-1,2}"
venv="${EARSHOT_VENV:-${EARSHOT_CACHE:-$HOME/.cache/earshot}/venv}"
cd "$here"
swift build -c release --scratch-path "$here/.build" --product KernelBench >&2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
files=()
for r in $(seq 1 "$rounds"); do
    "$here/.build/release/KernelBench" "$threads" > "$out/ours$r.txt"
    # OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be preset on this workplace; replace both together.
    env -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE=SkylakeX \
        "$venv/bin/python" "$here/openblas_bench.py" "$threads" > "$out/blas$r.txt"
    files+=("$out/ours$r.txt" "$out/blas$r.txt")
done
head -1 "$out/ours1.txt"; head -1 "$out/blas1.txt"
grep '^attention' "$out"/ours*.txt | sed 's/.*://' || true
python3 "$here/compare.py" "${files[@]}"
