"""OCR engines behind one interface (`base.OcrEngine`), chosen by `registry.get_engine`."""
