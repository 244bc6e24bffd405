#!/usr/bin/env bash
# Sets sendgate up and runs it with the example policy (policies/default.yaml) and a local
# Redis that it starts itself, persistent (append-only file in var/redis/). Ctrl-C, or SIGTERM
# to this script (a supervisor, `timeout`), stops both: sendgate drains, then Redis.
# Settings: REDIS_PORT (6380), LISTEN (127.0.0.1:50051: plaintext is for loopback; give
# --tls_cert_file and --tls_key_file to listen elsewhere), METRICS_LISTEN (0.0.0.0:9464);
# further arguments go to sendgate (see `build/sendgate --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

REDIS_PORT="${REDIS_PORT:-6380}"
mkdir -p var/redis
# In a session of its own (setsid), so that a signal to the whole process group (Ctrl-C in a
# terminal, `timeout`) reaches sendgate and this script but not Redis, which stops only once
# sendgate has drained (the EXIT trap): the decisions in flight still reach it.
setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/var/redis" \
  --appendonly yes --appendfsync everysec --logfile "$PWD/var/redis/redis.log" &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break
  sleep 0.1
done
echo "== Redis on 127.0.0.1:$REDIS_PORT, data in var/redis/"

# The secret of the keyed hash that keeps erased contacts suppressed: made once, then kept.
if [ ! -s var/suppression.key ]; then
  (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > var/suppression.key)
fi

# In the background, so that a signal to this script reaches it (bash runs no trap while a
# foreground command runs); its exit status is the script's.
build/sendgate --policy=policies/default.yaml --redis="127.0.0.1:$REDIS_PORT" \
  --suppression_key_file=var/suppression.key \
  --listen="${LISTEN:-127.0.0.1:50051}" --metrics-listen="${METRICS_LISTEN:-0.0.0.0:9464}" "$@" &
sendgate_pid=$!
trap 'kill -TERM "$sendgate_pid" 2>/dev/null || true' INT TERM
status=0
wait "$sendgate_pid" || status=$?
if kill -0 "$sendgate_pid" 2>/dev/null; then  # the wait ended on a signal: sendgate drains
  status=0
  wait "$sendgate_pid" || status=$?
fi
exit "$status"
