#!/usr/bin/env bash
# Set up and run the server on its embedded defaults: `bash scripts/serve.sh [pixelforge serve args]`.
# Creates .venv (CPU torch pinned first), installs pixelforge with the embedded model, creates a
# demo API key on the first run (printed once: keep it), then runs `pixelforge serve`.
# Honours PIXELFORGE_DATA_DIR, PIXELFORGE_HOST, PIXELFORGE_PORT and every other PIXELFORGE_* setting.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
stamp=.venv/.pixelforge-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: an unpinned torch requirement would pull several GB of CUDA wheels.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e '.[model]'
  touch "$stamp"
fi

data_dir=$(.venv/bin/python -c 'from pixelforge.config import Settings; print(Settings().data_dir)')
mkdir -p "$data_dir"
if [ ! -e "$data_dir/.demo-key-created" ]; then
  echo "First run: creating a demo API key with a \$10 balance (shown only now; keep it):"
  .venv/bin/pixelforge keys create --name demo --balance 10
  touch "$data_dir/.demo-key-created"
  echo
fi
exec .venv/bin/pixelforge serve "$@"
