# Sourced by the tools that compare sendgate builds (compare.sh, instructions.sh, syscalls.sh):
# a throwaway Redis and one sendgate on it, with the example policy (or POLICY).
#
# start_pair WORK BINARY [WRAPPER ...]: redis-server on $port (in WORK, flags REDIS_FLAGS, by
# default without persistence) and BINARY (run under WRAPPER, such as valgrind) serving gRPC on
# $((port + 1)) and metrics on $((port + 2)); returns once sendgate's store is up, or exits
# with sendgate's log if it stops first. Sets port, redis_pid and sendgate_pid.
# stop_pair: stops both.
start_pair() {
  local work=$1 binary=$2
  shift 2
  port=$(( 20000 + RANDOM % 10000 ))
  # shellcheck disable=SC2086  # REDIS_FLAGS is a list of flags
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save "" --logfile "$work/redis.log" \
    ${REDIS_FLAGS:---appendonly no} &
  redis_pid=$!
  until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.1; done
  "$@" "$binary" --policy="${POLICY:-policies/default.yaml}" --redis="127.0.0.1:$port" \
    --listen="127.0.0.1:$((port + 1))" --metrics-listen="127.0.0.1:$((port + 2))" \
    2> "$work/sendgate.log" &
  sendgate_pid=$!
  until curl -sf "http://127.0.0.1:$((port + 2))/metrics" 2> /dev/null | grep -q "^sendgate_store_up 1"; do
    kill -0 "$sendgate_pid" 2> /dev/null || { cat "$work/sendgate.log" >&2; kill "$redis_pid"; exit 1; }
    sleep 0.2
  done
}

stop_pair() {
  kill "$sendgate_pid"; wait "$sendgate_pid" 2> /dev/null || true
  kill "$redis_pid"; wait "$redis_pid" 2> /dev/null || true
}
