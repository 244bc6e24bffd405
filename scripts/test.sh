#!/usr/bin/env bash
# Sets sendgate up and runs every test: unit, integration (real redis-server on free ports) and
# e2e (the sendgate binary over gRPC), then the unit and integration tests again under ASan and
# UBSan and each fuzz target for 20 s (scripts/sanitize.sh; docs/testing.md). One tier:
# ctest --test-dir build -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== running the tests"
ctest --test-dir build --output-on-failure -j2
bash scripts/sanitize.sh
