"""The folder step records a folder's searchable PDF as its own asset, with its check, only
for folders that ask for it."""

from __future__ import annotations

import dagster as dg

from ocr_assets.engine.config import ProjectConfig
from ocr_assets_tests.defs.conftest import Project
from ocr_assets_tests.project_defs import check_results, materialization, recorded, run_folders


def test_a_folder_that_asks_gets_its_searchable_pdf_recorded_and_checked(
        project: Project) -> None:
    project.register()
    (project.scans / "box, 2" / "folder.toml").write_text("searchable_pdf = true\n")
    ocr = project.ocr
    result = run_folders(project.instance, ocr, sorted(project.register()))
    assert result.success, "box, 2's one truncated page fails alone"

    [key] = [k for k in project.register() if k != "box-001"]
    pdf = materialization(project.instance, result.run_id, "searchable_pdf", key).metadata
    assert (pdf["pages"].value, pdf["rebuilt"].value) == (1, True)
    assert pdf["left_out"].value == ["page_2.tif"]
    check = check_results(project.instance, result.run_id, key)["searchable_pdf_complete"]
    assert check.passed and "page_2.tif" in (check.description or "")
    assert check.metadata["word_match"].value == 1.0

    assert pdf["made"].value is True
    made = {e.asset_materialization.partition: e.asset_materialization.metadata["made"].value
            for e in recorded(project.instance, result.run_id,
                              dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.asset_materialization.asset_key.path == ["searchable_pdf"]}
    assert made == {key: True, "box-001": False}, \
        "box-001 did not ask for one, and is recorded all the same (not 'missing' in the UI)"
    assert "searchable_pdf_complete" not in check_results(project.instance, result.run_id,
                                                          "box-001")


def test_searchable_pdfs_and_pdfa_are_settings_of_the_project() -> None:
    config = ProjectConfig.from_environ({"OCR_ASSETS_SEARCHABLE_PDF": "1",
                                         "OCR_ASSETS_PDFA": "1"})
    settings = config.settings()
    assert settings.searchable_pdf and config.pdfa
    assert settings.recipe()["searchable_pdf"] is True
    assert "searchable_pdf" not in ProjectConfig().settings().recipe(), "only when on"
