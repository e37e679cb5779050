#!/usr/bin/env bash
# Runs Earshot's libFuzzer targets (docs/reliability.md, "Fuzzing").
#   Fuzz/run.sh [SECONDS] [TARGET...]     default 60 s each, all targets
#   FUZZ_RUNS=1000000 Fuzz/run.sh 1800     each target until 10^6 executions (at most 30 min)
# Builds the package with libFuzzer + AddressSanitizer, copies the committed seed corpus into a working
# corpus (Fuzz/.work/<target>, not committed) and fuzzes each target for SECONDS of fuzzing time, with the
# memory limits that catch a header making a reader allocate gigabytes. A crash, leak, timeout or
# out-of-memory stops with the input in Fuzz/.work/artifacts/ and a non-zero status.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/opt/swift/usr/bin:$PATH"
SECONDS_EACH="${1:-60}"; shift || true
# libFuzzer reports crashes itself; Swift's backtracer, started on the trap first, was seen to hang
# symbolicating under ASan (a CI run would wait for its 90-minute limit).
export SWIFT_BACKTRACE=enable=no
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(wav resampler ct2 pytorch yaml tokenizer multipart funasr)
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
  # Not `--sanitize fuzzer --sanitize address`: SwiftPM passes those as two `-sanitize=` flags and swiftc keeps
  # only the last, so whether the Swift modules got coverage depended on the order SwiftPM emitted them in
  # (docs/reliability.md). `--sanitize fuzzer` keeps SwiftPM's libFuzzer handling of the executables (no renamed
  # `main`); the combined flag, passed after it, is the one swiftc keeps; clang merges its -fsanitize flags.
  swift build -c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address 2>&1 \
    | grep -E "error:|Build complete" || true
fi
BIN=.build/release
mkdir -p .work/artifacts
status=0
for t in "${TARGETS[@]}"; do
  case $t in
    wav) exe=FuzzWAV; dict=wav ;; resampler) exe=FuzzResampler; dict= ;; ct2) exe=FuzzCT2; dict=ct2 ;;
    pytorch) exe=FuzzPyTorch; dict=pytorch ;; yaml) exe=FuzzYAML; dict=yaml ;; tokenizer) exe=FuzzTokenizer; dict=json ;;
    multipart) exe=FuzzMultipart; dict=multipart ;; funasr) exe=FuzzFunASRMessages; dict=funasr ;;
    *) echo "unknown target $t (wav resampler ct2 pytorch yaml tokenizer multipart funasr)" >&2; exit 2 ;;
  esac
  mkdir -p ".work/$t"
  cp -n corpus/$t/* ".work/$t/" 2>/dev/null || true
  case $t in   # the committed regressions are seeds too
    wav) cp -n regressions/*.wav ".work/$t/" ;; pytorch) cp -n regressions/*.pt ".work/$t/" ;;
    yaml) cp -n regressions/*.yaml ".work/$t/" ;; tokenizer) cp -n regressions/*.json ".work/$t/" ;;
    ct2) cp -n regressions/ct2-*.bin ".work/$t/" ;; multipart) cp -n regressions/multipart-*.txt ".work/$t/" ;;
  esac
  args=(-max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len=16384
        -print_final_stats=1 -artifact_prefix=".work/artifacts/$t-")
  [ -n "$dict" ] && args+=(-dict="dict/$dict.dict")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")   # stop after this many executions (SECONDS still caps)
  echo "== $t ($exe, ${SECONDS_EACH}s)"
  if ! "$BIN/$exe" "${args[@]}" ".work/$t" 2> ".work/$t.log"; then
    status=1; echo "!! $t: failure, see Fuzz/.work/$t.log and Fuzz/.work/artifacts/"; tail -40 ".work/$t.log"
  fi
  if ! grep -qE "INITED cov:" ".work/$t.log"; then
    # Seen once: an incremental rebuild left the reader modules without coverage instrumentation (no
    # __sanitizer_cov symbols; libFuzzer then runs blind). A clean build of the package fixes it.
    status=1; echo "!! $t: the binary is not instrumented for coverage; rm -rf Fuzz/.build and run again"
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)" ".work/$t.log" | tail -1
  grep -E "stat::(number_of_executed_units|peak_rss_mb)" ".work/$t.log" | tail -2
done
exit $status
