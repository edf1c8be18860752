"""`python -m ocr_assets.ui`: the Dagster UI and daemon (`dagster dev`) on the project's instance.

`scripts/ui.sh` runs this. The webserver listens on 127.0.0.1:3000 (loopback only) unless
`--host`/`--port` say otherwise; every other argument goes to `dagster dev` as well. The instance
is the one the CLI uses (`<data root>/dagster_home` with the project's `dagster.yaml`, see
`orchestration/instance.py`), so the UI shows the CLI's runs and the daemon runs the sensors and
schedules against the same partitions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.orchestration.allocators import with_allocators
from ocr_assets.orchestration.instance import (
    PROJECT_ROOT,
    InstanceOpenError,
    dagster_home,
    open_instance,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
WORKSPACE_YAML = PROJECT_ROOT / "workspace.yaml"


def dev_command(args: Sequence[str]) -> list[str]:
    """The `dagster dev` command line: loopback and port 3000 unless `args` name a host or
    port (the last occurrence of an option wins), and the project's workspace."""
    return [sys.executable, "-m", "dagster", "dev", "--host", DEFAULT_HOST,
            "--port", str(DEFAULT_PORT), "--workspace", str(WORKSPACE_YAML), *args]


def dev_environment(environ: Mapping[str, str]) -> tuple[dict[str, str], Path]:
    """The environment of every process `dagster dev` starts (webserver, daemon, code server,
    runs): this one's, with the project's configuration spelled out (absolute data and scans
    roots), `DAGSTER_HOME` set to the project's instance and Arrow's allocator
    (`orchestration/allocators.py`); and that home."""
    config = ProjectConfig.from_environ(environ)
    home = dagster_home(Path(config.data_root), environ)
    return {**with_allocators(environ), **config.environ(), "DAGSTER_HOME": str(home)}, home


def main(argv: Sequence[str] | None = None) -> None:
    environment, home = dev_environment(os.environ)
    # Created (or repaired) here, under the instance lock, before the webserver and the daemon
    # open it at the same moment, and beside any `ocr-assets run` started with them.
    try:
        open_instance(home, on_repair=lambda line: print(
            f"repaired the Dagster instance: {line}", file=sys.stderr)).dispose()
    except InstanceOpenError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    command = dev_command(sys.argv[1:] if argv is None else argv)
    print(f"Dagster UI: data {environment['OCR_ASSETS_DATA']}, scans "
          f"{environment['OCR_ASSETS_SCANS']}, Dagster home {home}", file=sys.stderr)
    # dagster dev warns when the working directory holds a dagster.yaml other than
    # $DAGSTER_HOME's; the project root does (it is the source of the copy in the home), so the
    # services start in the home instead. Every path they need is absolute by now.
    os.chdir(home)
    os.execve(command[0], command, environment)


if __name__ == "__main__":
    main()
