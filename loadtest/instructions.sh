#!/usr/bin/env bash
# Instructions sendgate executes per decision, counted by valgrind's callgrind: repeatable for
# the same binary and requests whatever else the machine does, so two builds can be compared
# in one run where throughput figures move with the machine (docs/BENCHMARKS.md).
#   bash loadtest/instructions.sh [SENDGATE_BINARY ...]   # default: build/sendgate
# POLICY (default policies/default.yaml) must load in every binary (loadtest/compare.sh).
# For each binary, for unary Decide, DecideStream and the empty RPC (Diagnostics/Ping, the
# yardstick of sendgate's own overhead per request, as in the rate sweep): 500 warm-up
# requests, then the counters are zeroed and N (default 3000) requests counted, all threads
# together; the last column is unary Decide over Ping. Needs
# valgrind (apt-get install valgrind) and a built tree (scripts/setup.sh). With PROFILE_DIR set,
# each count's profile is kept there (callgrind_annotate --inclusive=yes FILE shows where it went).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-3000}"
source loadtest/pair.sh
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=(build/sendgate)

count() {  # BINARY MODE -> instructions per decision
  local binary=$1 mode=$2 work
  work=$(mktemp -d)
  start_pair "$work" "$binary" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out"
  local load=(build/loadtest/sendgate_load --target="127.0.0.1:$((port + 1))" --mode="$mode"
              --concurrency=16 --streams=1)
  "${load[@]}" --requests=500 --label=warmup > /dev/null 2>&1
  callgrind_control -z "$sendgate_pid" > /dev/null
  "${load[@]}" --requests="$N" --label=counted > /dev/null 2>&1
  callgrind_control -d "$sendgate_pid" > /dev/null
  stop_pair
  local total
  # The counted requests are the first dump (callgrind.out.1, made by `-d`); the file written
  # at exit holds the shutdown. (Taking the largest of the two once reported 418 000
  # instructions per Ping: the exit file's.)
  local counted="$work/callgrind.out.1"
  total=$(grep -h "^summary:" "$counted" | awk '{print $2}') || true
  if ! [[ "$total" =~ ^[0-9]+$ ]]; then
    echo "instructions.sh: no count of $binary ($mode): callgrind's dump is missing" >&2
    cat "$work/sendgate.log" >&2
    rm -rf "$work"
    return 1
  fi
  if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR"
    cp "$counted" "$PROFILE_DIR/$(basename "$binary").$mode.callgrind"
  fi
  rm -rf "$work"
  echo $(( total / N ))
}

printf "%-40s %14s %14s %14s %14s\n" binary "unary Decide" "DecideStream" "Ping" "Decide/Ping"
for binary in "${binaries[@]}"; do
  unary=$(count "$binary" unary)
  ping=$(count "$binary" ping)
  stream=$(count "$binary" stream)
  printf "%-40s %14s %14s %14s %14s\n" "$binary" "$unary" "$stream" "$ping" \
    "$(echo "scale=2; $unary / $ping" | bc)"
done
