#!/usr/bin/env bash
# The Dagster UI: set up, then start the webserver and the daemon (`dagster dev`) on
# http://127.0.0.1:3000, bound to loopback only, on the project's instance (data/dagster_home with
# the project's dagster.yaml, the one `scripts/run.sh` records its runs in), with the sensors and
# the nightly schedule running. Extra arguments go to `dagster dev`: `--port 3001`, or
# `--host 0.0.0.0` to let other machines reach the UI. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m ocr_assets.ui "$@"
