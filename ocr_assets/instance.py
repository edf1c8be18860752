"""The persistent Dagster instance every project command uses (never a temporary home).

Unless `DAGSTER_HOME` is set by the user (a production instance, e.g. `deploy/`), it is
`<data root>/dagster_home`, and the project's `dagster.yaml` is copied there, so the CLI, the UI
and the daemon share one instance, its runs, partitions and check results.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"


def prepare_dagster_home(data_root: Path) -> Path:
    """Set `DAGSTER_HOME` (if unset) to `<data_root>/dagster_home` with the project's
    `dagster.yaml`, and return it."""
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = (data_root / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = Path(os.environ.get("OCR_ASSETS_INSTANCE_YAML", PROJECT_INSTANCE_YAML))
    if source.is_file() and (not target.is_file()
                             or target.read_bytes() != source.read_bytes()):
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
