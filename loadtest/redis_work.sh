#!/usr/bin/env bash
# Redis's work per decision, against a floor (docs/BENCHMARKS.md, "Redis work per decision"):
# CALLS decisions of the benchmark's mixed traffic (hot Zipf contacts included), as the very
# FCALLs sendgate sends (sendgate_load --print_redis_replay), are replayed on a Redis of their
# own through decide, then the same calls (same KEYS and ARGV) through decide_floor, the
# library's function that makes only the reads and the write every decision makes. Measured:
#   - usec_per_call of each (INFO commandstats), on a redis-server set as the benchmark's
#     (append-only file, everysec), and the replay's rate through decide (redis-cli --pipe:
#     the Redis ceiling for this traffic, pipelined);
#   - instructions per call of each (valgrind's callgrind on a second redis-server, counting
#     inside FCALL only), for the first INSTRUCTION_CALLS of the same replay: repeatable
#     whatever else the machine does. Skipped (0) without valgrind.
# Prints one line: RESULT label=redis_work decide_usec=... floor_usec=... usec_ratio=...
#   decide_per_second=... decide_instructions=... floor_instructions=... instruction_ratio=...
#   bash loadtest/redis_work.sh     # CALLS=50000 INSTRUCTION_CALLS=20000; needs a built tree
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS="${CALLS:-50000}"
INSTRUCTION_CALLS="${INSTRUCTION_CALLS:-20000}"
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null || true; wait 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# replay COUNT FUNCTION FILE: the replay of the first COUNT decisions through FUNCTION.
run="work$RANDOM"
replay() { build/loadtest/sendgate_load --print_redis_replay="$1" --replay_function="$2" --run="$run" > "$3"; }
# usec PORT: decide.lua's (or the floor's) usec_per_call since the last reset.
usec() {
  redis-cli -p "$1" info commandstats | grep -o "cmdstat_fcall:.*usec_per_call=[0-9.]*" \
    | grep -o "usec_per_call=[0-9.]*" | cut -d= -f2
}
# start_redis PORT [PREFIX...]: a redis-server on PORT (under PREFIX, e.g. valgrind).
start_redis() {
  local port=$1
  shift
  mkdir -p "$work/$port"
  "$@" redis-server --port "$port" --bind 127.0.0.1 --dir "$work/$port" --appendonly yes \
    --appendfsync everysec --auto-aof-rewrite-percentage 0 --save "" \
    --logfile "$work/$port/redis.log" > "$work/$port/out.log" 2>&1 &
  pids+=($!)
  until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.2; done
}

replay "$CALLS" decide "$work/decide.resp"
replay "$CALLS" decide_floor "$work/floor.resp"
port=$(( 30000 + RANDOM % 10000 ))
start_redis "$port"
# The library's FUNCTION LOAD leads each replay; the second one is refused (counted as an error).
started=$(date +%s.%N)
redis-cli -p "$port" --pipe < "$work/decide.resp" > /dev/null 2>&1
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
decide_usec=$(usec "$port")
redis-cli -p "$port" config resetstat > /dev/null
redis-cli -p "$port" --pipe < "$work/floor.resp" > /dev/null 2>&1 || true
floor_usec=$(usec "$port")
decide_per_second=$(echo "scale=0; $CALLS / $elapsed" | bc)

decide_instructions=0 floor_instructions=0 instruction_ratio=0
if command -v valgrind > /dev/null; then
  replay "$INSTRUCTION_CALLS" decide "$work/decide-i.resp"
  replay "$INSTRUCTION_CALLS" decide_floor "$work/floor-i.resp"
  iport=$(( port + 1 ))
  start_redis "$iport" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    --toggle-collect=fcallCommand
  valgrind_pid=${pids[-1]}
  redis-cli -p "$iport" --pipe < "$work/decide-i.resp" > /dev/null 2>&1
  callgrind_control -d "$valgrind_pid" > /dev/null 2>&1
  redis-cli -p "$iport" --pipe < "$work/floor-i.resp" > /dev/null 2>&1 || true
  callgrind_control -d "$valgrind_pid" > /dev/null 2>&1
  total() { grep -h "^summary:" "$work/callgrind.out.$1" | awk '{print $2}'; }
  decide_instructions=$(( $(total 1) / INSTRUCTION_CALLS ))
  floor_instructions=$(( $(total 2) / INSTRUCTION_CALLS ))
  instruction_ratio=$(echo "scale=2; $decide_instructions / $floor_instructions" | bc)
fi
echo "RESULT label=redis_work decide_usec=$decide_usec floor_usec=$floor_usec" \
  "usec_ratio=$(echo "scale=2; $decide_usec / $floor_usec" | bc) decide_per_second=$decide_per_second" \
  "decide_instructions=$decide_instructions floor_instructions=$floor_instructions" \
  "instruction_ratio=$instruction_ratio"
