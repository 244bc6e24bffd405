#!/usr/bin/env bash
# The system calls and context switches sendgate makes per request, unary Decide against the
# empty RPC (Diagnostics/Ping), counted by the kernel's tracepoints (perf stat): what a
# request costs in kernel time, which the VM's exits make dear here (docs/BENCHMARKS.md).
# Counts, not times: they move far less with the machine than CPU time does, so two builds
# can be compared in one run.
#   bash loadtest/syscalls.sh [SENDGATE_BINARY ...]   # default: build/sendgate
# RATE (default 2000; 0: closed loop, 64 in flight) requests per second for DURATION (default
# 5 s) after a 2 s warm-up, against a fresh redis-server. Needs perf (apt-get install
# linux-perf), root or kernel.perf_event_paranoid <= -1 for the tracepoints, and a built tree.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-2000}"
DURATION="${DURATION:-5}"
source loadtest/pair.sh
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=(build/sendgate)
events=(syscalls:sys_enter_futex syscalls:sys_enter_epoll_wait syscalls:sys_enter_epoll_ctl
        syscalls:sys_enter_write syscalls:sys_enter_read syscalls:sys_enter_sendmsg
        syscalls:sys_enter_recvmsg raw_syscalls:sys_enter context-switches task-clock)
columns=(futex epoll_wait epoll_ctl write read sendmsg recvmsg "all calls" switches "cpu µs")

count() {  # BINARY MODE -> one line: each event per request
  local binary=$1 mode=$2 work
  work=$(mktemp -d)
  start_pair "$work" "$binary"
  local load=(build/loadtest/sendgate_load --target="127.0.0.1:$((port + 1))" --mode="$mode"
              --rate="$RATE" --json="$work/load.json")
  "${load[@]}" --duration=2s --warmup=0s --label=warmup > /dev/null 2>&1
  perf stat -x, -e "$(IFS=,; echo "${events[*]}")" -p "$sendgate_pid" -o "$work/perf.csv" &
  local perf_pid=$!
  sleep 0.2
  "${load[@]}" --duration="${DURATION}s" --warmup=0s --label=counted > /dev/null 2>&1
  kill -INT "$perf_pid"; wait "$perf_pid" 2> /dev/null || true
  stop_pair
  local requests
  requests=$(tail -1 "$work/load.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
  python3 - "$work/perf.csv" "$requests" "${events[@]}" <<'EOF'
import sys
path, requests, events = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
values = {}
for line in open(path):
    fields = line.strip().split(',')
    if len(fields) > 2 and fields[2] in events:
        values[fields[2]] = float(fields[0]) if fields[0] not in ('', '<not counted>') else 0.0
out = []
for event in events:
    value = values.get(event, 0.0) / requests
    if event == 'task-clock':
        value *= 1000  # ms -> µs
    out.append(f"{value:10.2f}")
print(' '.join(out))
EOF
  rm -rf "$work"
}

echo "per request, at ${RATE}/s (0: closed loop) for ${DURATION} s"
printf "%-28s %-6s" binary mode
for column in "${columns[@]}"; do printf " %10s" "$column"; done
echo
for binary in "${binaries[@]}"; do
  for mode in unary ping; do
    printf "%-28s %-6s %s\n" "$(basename "$binary")" "$mode" "$(count "$binary" "$mode")"
  done
done
