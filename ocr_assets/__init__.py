"""ocr-assets: OCR of scanned pages as Dagster software-defined assets.

`ocr_assets.engine` is plain Python (no Dagster import) and holds every decision about pages;
`ocr_assets.defs` holds the Dagster definitions that decide when and where the engine runs.
"""
