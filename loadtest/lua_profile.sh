#!/usr/bin/env bash
# Where decide.lua (or another function of the library) spends its Lua bytecodes, line by line,
# on CALLS decisions of the benchmark's mixed traffic, as the very FCALLs sendgate sends
# (sendgate_load --print_redis_replay): loadtest/lua_profile.lua runs them under plain Lua 5.1
# with a count hook (docs/benchmark-notes.md, "Redis work per decision"). Counts, not time:
# the same replay gives the same figures on any machine.
#   bash loadtest/lua_profile.sh                # CALLS=2000 FUNCTION=decide LINES=40
# Needs a built tree (scripts/setup.sh; SENDGATE_LOAD: another build's sendgate_load) and lua5.1
# (Debian's package of that name).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS="${CALLS:-2000}"
FUNCTION="${FUNCTION:-decide}"
LINES="${LINES:-40}"
command -v lua5.1 > /dev/null || { echo "lua5.1 is needed: apt-get install lua5.1" >&2; exit 1; }
replay=$(mktemp)
trap 'rm -f "$replay"' EXIT
load="${SENDGATE_LOAD:-build/loadtest/sendgate_load}"
"$load" --print_redis_replay="$CALLS" --replay_function="$FUNCTION" --run="profile$RANDOM" \
  > "$replay"
lua5.1 loadtest/lua_profile.lua "$replay" "$FUNCTION" "$LINES"
