#!/usr/bin/env bash
# Sets up everything the tests need and runs them: `bash scripts/test.sh [pytest args]`.
# Creates .venv (CPU torch pinned), starts a throwaway PostgreSQL when its binaries are present
# (required when CI=true), runs ruff and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch requirement would pull several GB of CUDA wheels.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[model,dev]'

source scripts/postgres.sh
start_test_postgres

.venv/bin/ruff check src tests benchmarks scripts
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m pytest "$@"
