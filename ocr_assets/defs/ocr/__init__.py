"""One folder's OCR: its page texts, the retry pass and report, their checks and its job."""
