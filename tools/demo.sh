#!/usr/bin/env bash
# From a fresh Debian bookworm machine: install dependencies, build, install, start a
# throwaway PostgreSQL 15 cluster and run the demo in it. The cluster is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
make -j"$(nproc)"
make install
pg_virtualenv -v 15 psql -X -v ON_ERROR_STOP=1 -f demo/demo.sql
