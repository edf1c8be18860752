"""The classes of the shared test set's pages (`../shared/testdata/pages/`), with the ceiling
each page's CER must stay under: one table for the accuracy tests
(`ocr_assets_tests/engine/folder/test_accuracy.py`) and the models benchmark
(`benchmarks/accuracy.py`), which reads every class with each model."""

from __future__ import annotations

SHARED_CLASSES: dict[str, tuple[float, list[str]]] = {
    # class: (ceiling on every page's CER against its `.gt.txt`, pages of `pages/`).
    # Measured with Tesseract 5.3.0 (worst page of the class): clean modern 2.2 %, turned
    # 0 %, magazine 9.4 %, Antiqua 0.75 %, Fraktur 21.1 %, title pages 22.8 %.
    "clean modern": (0.05, ["tesseract-ocr_test/phototest.tif",
                            "tesseract-ocr_test/eurotext.tif", "ocrmypdf_OCRmyPDF/linn.png"]),
    # phototest turned by 90, 180 and 270 degrees: once turned upright it reads as upright.
    "turned": (0.05, ["tesseract-ocr_test/phototest-rotated-180.png",
                      "tesseract-ocr_test/phototest-rotated-L.png",
                      "tesseract-ocr_test/phototest-rotated-R.png",
                      "tesseract-ocr_test/phototestrot.tif"]),
    # UNLV multi-column magazine pages: zone-ordered ASCII ground truth, photos, captions.
    "UNLV magazine": (0.12, ["tesseract-ocr_test/8071_093.3B.tif",
                             "tesseract-ocr_test/8087_054.3B.tif"]),
    # 19th-century German Antiqua with `deu`; read with `eng` these pages were at 2.1-3.1 %.
    "German Antiqua": (0.015, [
        "OCR-D_gt_structure_text/bebel_frau_1879_0146.tif",
        "OCR-D_gt_structure_text/bebel_frau_1879_0168.tif",
        "OCR-D_gt_structure_text/bebel_frau_1879_0176.tif",
        "OCR-D_gt_structure_text/bebel_frau_1879_0186.tif",
        "qurator-spk_dinglehopper/locke_462875_0008.jpg"]),
    # German Fraktur of 1515 to 1837 with `deu` (a modern Antiqua model; the ground truth keeps
    # long s and ligatures): 7.1 % (1837) to 21.1 % (1548).
    "German Fraktur": (0.25, [
        "OCR-D_assets/kant_aufklaerung_1784_0017.tif",
        "OCR-D_assets/kant_aufklaerung_1784_0020.tif",
        "OCR-D_gt_structure_text/aepinus_bekentnis_1548_0006_B.tif",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0023.jpg",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0031.jpg",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0038.jpg",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0041.jpg",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0122.jpg",
        "OCR-D_gt_structure_text/clauren_mimil_1815_0146.jpg",
        "OCR-D_gt_structure_text/laube_europa0202_1837_0105.jpg",
        "OCR-D_gt_structure_text/nn_besuch_1780_00002_B.tif",
        "OCR-D_gt_structure_text/nn_lied_1515_0006_B.tif"]),
    # Title pages of 1787 (German and Latin) and 1837 (Fraktur): few, large, mixed types.
    "German title pages": (0.28, ["OCR-D_gt_structure_text/herder_geschichte03_1787_0007.jpg",
                                  "OCR-D_gt_structure_text/laube_europa0202_1837_0006.jpg"]),
}
