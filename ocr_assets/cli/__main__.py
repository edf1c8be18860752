"""`python -m ocr_assets.cli`: the same as the `ocr-assets` command."""

from ocr_assets.cli.main import console_main

console_main()
