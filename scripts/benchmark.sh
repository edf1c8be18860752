#!/usr/bin/env bash
# The benchmarks (docs/benchmarks.md): set up, then measure the pipeline against the bare Tesseract
# CLI on the shared test set's pages. Takes 15-25 minutes on 2 cores with the defaults; extra
# arguments go to `python -m benchmarks.run` (e.g. --folders 2 --reps 1 for a quick look).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m benchmarks.run "$@"
