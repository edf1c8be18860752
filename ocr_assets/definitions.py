"""The project's definitions: the `defs/` folder, loaded the way `dg` projects are
(`[tool.dg]` in pyproject.toml), so `dg list defs`, `dg check defs`, `dg dev`, `dagster dev` and
`workspace.yaml` all see the same assets, checks, jobs, sensors and schedules."""

from pathlib import Path

import dagster as dg

from ocr_assets.orchestration.allocators import use_system_arrow_pool


def load_definitions() -> dg.Definitions:
    """Every definition of `ocr_assets/defs`, as this process's environment configures them
    (the `ocr` resource, the sensors' intervals, the nightly cron, the step retries). A process
    that loads them runs folders, so its Arrow buffers come from the system allocator
    (`orchestration/allocators.py`)."""
    use_system_arrow_pool()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@dg.definitions
def defs() -> dg.Definitions:
    return load_definitions()
