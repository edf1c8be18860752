"""Flags to configuration: the command line's flags over the `OCR_ASSETS_*` variables, read
once into one `ProjectConfig` value that every command passes on (nothing is written back to
the environment)."""

from __future__ import annotations

import argparse
import os

from ocr_assets.engine.config import ProjectConfig


def project_config(args: argparse.Namespace) -> ProjectConfig:
    """The configuration of this command: its flags (`--data`, `--scans`, `--workers`) win
    over the environment."""
    return ProjectConfig.from_environ(os.environ, data_root=getattr(args, "data", None),
                                      scans_root=getattr(args, "scans", None),
                                      workers=getattr(args, "workers", None) or None)


def add_data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="data root (default: $OCR_ASSETS_DATA or ./data)")


def add_scans_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scans", help="scans root (default: $OCR_ASSETS_SCANS or <data>/scans)")
