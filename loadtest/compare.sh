#!/usr/bin/env bash
# Two sendgate builds back to back on this machine, so that a change's cost is read in one
# run where figures move with the machine's load (docs/BENCHMARKS.md): for each binary in turn
# (ROUNDS times, alternating), a fresh Redis (AOF on, as the benchmark) and that sendgate with
# the example policy, the closed-loop unary Decide load of the benchmark, and what it did:
# decisions per second, Redis CPU per decide call (INFO commandstats) and FCALLs per decision.
#   bash loadtest/compare.sh OLD_BINARY NEW_BINARY     # SECONDS_PER_RUN=15, ROUNDS=2
# POLICY (default policies/default.yaml) must load in every binary: for an older one, the
# example policy of its own commit (git show COMMIT:policies/default.yaml > old.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bash loadtest/compare.sh OLD_BINARY NEW_BINARY ..." >&2; exit 2; }
SECONDS_PER_RUN="${SECONDS_PER_RUN:-15}"
ROUNDS="${ROUNDS:-2}"
source loadtest/pair.sh

run() {  # BINARY -> "throughput usec_per_fcall fcalls_per_decision"
  local binary=$1 work
  work=$(mktemp -d)
  REDIS_FLAGS="--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0" \
    start_pair "$work" "$binary"
  local load=(build/loadtest/sendgate_load --target="127.0.0.1:$((port + 1))" --mode=unary)
  "${load[@]}" --concurrency=64 --duration=3s --warmup=0s --label=warmup > /dev/null
  redis-cli -p "$port" config resetstat > /dev/null
  local result
  result=$("${load[@]}" --concurrency=256 --duration="${SECONDS_PER_RUN}s" --label=run | grep "^RESULT")
  local stats calls usec decisions
  stats=$(redis-cli -p "$port" info commandstats | grep "^cmdstat_fcall:")
  calls=$(echo "$stats" | grep -o "^cmdstat_fcall:calls=[0-9]*" | cut -d= -f2)
  usec=$(echo "$stats" | grep -o "usec_per_call=[0-9.]*" | cut -d= -f2)
  decisions=0
  for outcome in allow deny defer; do
    decisions=$(( decisions + $(echo "$result" | grep -o " $outcome=[0-9]*" | cut -d= -f2) ))
  done
  stop_pair
  rm -rf "$work"
  echo "$(echo "$result" | grep -o " throughput=[0-9.]*" | cut -d= -f2) $usec $(echo "scale=3; $calls / $decisions" | bc)"
}

printf "%-36s %6s %14s %18s %16s\n" binary round "decisions/s" "Redis µs/FCALL" "FCALL/decision"
for round in $(seq "$ROUNDS"); do
  for binary in "$@"; do
    read -r throughput usec per <<< "$(run "$binary")"
    printf "%-36s %6s %14s %18s %16s\n" "$binary" "$round" "$throughput" "$usec" "$per"
  done
done
