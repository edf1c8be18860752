#!/usr/bin/env bash
# Regenerate the README's screenshots of the Dagster UI (docs/ui/*.png): runs the browser tests,
# which start the UI on sample folders and save what they look at. Needs Chromium
# (apt-get install chromium); fails instead of skipping without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OCR_ASSETS_SCREENSHOTS="$PWD/docs/ui" OCR_ASSETS_REQUIRE_BROWSER=1
# A fixed temporary directory (pytest empties it first), so paths the UI shows, such as the
# failed-pages report's, read /tmp/ocr-assets-ui/... rather than a numbered pytest directory;
# in one process (-n 0): an xdist worker would add its own directory (popen-gw0) to the paths.
exec .venv/bin/python -m pytest ocr_assets_tests/e2e/test_ui.py -q -n 0 \
  --basetemp=/tmp/ocr-assets-ui "$@"
