"""Benchmarks of ocr-assets against the bare Tesseract CLI (`python -m benchmarks.run`).

Benchmarks are not tests: nothing here asserts on a time. `ocr_assets_tests/benchmarks/` runs a
tiny configuration of the same script to prove that it works and reports what it should.
"""
