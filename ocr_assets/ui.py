"""`python -m ocr_assets.ui`: the Dagster UI and daemon (`dagster dev`) on the project's instance.

`scripts/ui.sh` runs this. The webserver listens on 127.0.0.1:3000 (loopback only) unless
`--host`/`--port` say otherwise; every other argument goes to `dagster dev` as well. The instance
is the one the CLI uses (`<data root>/dagster_home` with the project's `dagster.yaml`, see
`ocr_assets.instance`), so the UI shows the CLI's runs and the daemon runs the sensors and
schedules against the same partitions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ocr_assets.instance import PROJECT_ROOT, prepare_dagster_home

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
WORKSPACE_YAML = PROJECT_ROOT / "workspace.yaml"


def dev_command(args: Sequence[str]) -> list[str]:
    """The `dagster dev` command line: loopback and port 3000 unless `args` name a host or
    port (the last occurrence of an option wins), and the project's workspace."""
    return [sys.executable, "-m", "dagster", "dev", "--host", DEFAULT_HOST,
            "--port", str(DEFAULT_PORT), "--workspace", str(WORKSPACE_YAML), *args]


def prepare_environment() -> Path:
    """Set `DAGSTER_HOME` and absolute `OCR_ASSETS_DATA`/`OCR_ASSETS_SCANS` for every process
    `dagster dev` starts (webserver, daemon, code server, runs); return the Dagster home."""
    from ocr_assets.defs.resources import OcrConfig

    config = OcrConfig.from_env()
    os.environ["OCR_ASSETS_DATA"] = config.data_root
    os.environ["OCR_ASSETS_SCANS"] = config.scans_root
    return prepare_dagster_home(Path(config.data_root))


def main(argv: Sequence[str] | None = None) -> None:
    home = prepare_environment()
    command = dev_command(sys.argv[1:] if argv is None else argv)
    print(f"Dagster UI: data {os.environ['OCR_ASSETS_DATA']}, scans "
          f"{os.environ['OCR_ASSETS_SCANS']}, Dagster home {home}", file=sys.stderr)
    # dagster dev warns when the working directory holds a dagster.yaml other than
    # $DAGSTER_HOME's; the project root does (it is the source of the copy in the home), so the
    # services start in the home instead. Every path they need is absolute by now.
    os.chdir(home)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
