#!/usr/bin/env bash
# The sanitizer and fuzzing tier (docs/testing.md): a clang build in build-sanitize/ with
# AddressSanitizer and UBSan (any finding fatal), the unit and integration tests run in it, then
# each libFuzzer target for FUZZ_SECONDS (20 s by default) from its checked-in corpus. Inputs a
# run finds are kept in build-sanitize/fuzz/, not in the source tree; a crash fails the script
# and leaves its reproducer there (copy it into tests/fuzz/corpus/<target>/ with the fix).
#   bash scripts/sanitize.sh            # after scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

echo "== building the sanitizer build in build-sanitize/ (clang, ASan + UBSan, libFuzzer)"
cmake -S . -B build-sanitize -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSENDGATE_SANITIZE=address,undefined -DSENDGATE_FUZZ=ON -DSENDGATE_TCMALLOC=OFF > /dev/null
cmake --build build-sanitize -j"$(nproc)" --target fast_tests sendgate

echo "== unit and integration tests under ASan + UBSan"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-sanitize -L 'unit|integration' --output-on-failure -j2

echo "== fuzzing, ${FUZZ_SECONDS} s per target"
for corpus in tests/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  found="build-sanitize/fuzz/$target"
  mkdir -p "$found"
  build-sanitize/tests/"${target}"_fuzzer -max_total_time="$FUZZ_SECONDS" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$found/" -print_final_stats=1 \
    "$found" "$corpus" 2>&1 | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" \
    | sed "s|^|$target: |" || true
  if ls "$found"/crash-* "$found"/leak-* "$found"/timeout-* "$found"/oom-* > /dev/null 2>&1; then
    echo "$target: a finding, reproducer in $found" >&2
    exit 1
  fi
done
echo "== no finding"
