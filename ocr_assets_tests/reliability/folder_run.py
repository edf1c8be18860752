"""One engine run of one folder in a process of its own, so a test can kill it or run two at
once: `python -m ocr_assets_tests.reliability.folder_run <folder> <manifest> <out_root>
<engine> <workers>` (the manifest: a SQLite path or a PostgreSQL URL; the outputs go to
`<out_root>/folder/`). Prints the report's
counts as JSON on success."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.folder.stream import process_folder
from ocr_assets.engine.project import Project, ScanFolder
from ocr_assets.engine.settings import OcrSettings


def main(argv: list[str]) -> int:
    folder, manifest, out_root, engine, workers = argv
    path = Path(folder)
    project = Project(ProjectConfig(data_root=str(Path(out_root).parent),
                                    scans_root=str(path.parent), manifest_url=manifest))
    report = process_folder(ScanFolder(project, "folder", path.name, path),
                            settings=OcrSettings(engine=engine, workers=int(workers)))
    print(json.dumps({"processed": report.processed, "done": report.done,
                      "failed": report.failed, "pending": report.pending,
                      "elsewhere": report.in_flight_elsewhere}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
