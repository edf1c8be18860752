#!/usr/bin/env bash
# Quick start 1: set up, then OCR every folder under data/scans into data/ (embedded SQLite
# Dagster instance in data/dagster_home). Extra arguments go to `ocr-assets run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ocr-assets run "$@"
