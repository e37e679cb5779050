#!/usr/bin/env bash
# The whole test suite under a sanitizer (docs/reliability.md, "Sanitizers").
#   scripts/sanitize.sh address     AddressSanitizer + LeakSanitizer, build in .build-asan
#   scripts/sanitize.sh thread      ThreadSanitizer, build in .build-tsan
# Extra arguments go to `swift test` (e.g. --filter RecognitionEngine). Tests that measure RSS skip
# themselves under a sanitizer (its shadow memory is resident too): ProcessMemory.sanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
kind="${1:?address or thread}"; shift
case $kind in
  address) scratch=.build-asan
           export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
           export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0}" ;;
  thread)  scratch=.build-tsan
           export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:history_size=4:suppressions=$PWD/scripts/sanitizers/tsan.supp}" ;;
  *) echo "usage: scripts/sanitize.sh address|thread [swift test arguments]" >&2; exit 2 ;;
esac
flags=(-c release -Xswiftc -enable-testing --sanitize="$kind" --scratch-path "$scratch")
swift build "${flags[@]}" --build-tests
# XCTest is off: Earshot's tests are swift-testing, and XCTest's own runner leaks at exit under LSan.
swift test "${flags[@]}" --skip-build --disable-xctest "$@"
