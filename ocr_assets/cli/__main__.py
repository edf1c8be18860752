"""`python -m ocr_assets.cli`: the same as the `ocr-assets` command."""

import sys

from ocr_assets.cli.main import main

sys.exit(main())
