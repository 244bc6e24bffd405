#!/usr/bin/env bash
# Sets sendgate up and runs every test: unit, integration (real redis-server on free ports) and
# e2e (the sendgate binary over gRPC). One tier: ctest --test-dir build -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== running the tests"
ctest --test-dir build --output-on-failure -j2
