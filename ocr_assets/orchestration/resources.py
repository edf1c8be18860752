"""The project's configuration as one Dagster resource, `ocr`, whose fields are exactly those
of `engine.config.ProjectConfig` (generated from it, so the two never drift).

Deployments set it from `OCR_ASSETS_*` variables when the definitions load (`from_environ`);
the command line passes its own configuration as the run's config, so the UI shows the
configuration every run used. Assets, checks, sensors and schedules take `project()`: the
engine's context, built once per resource.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pydantic
from pydantic import PrivateAttr

from ocr_assets.engine.config import ProjectConfig
from ocr_assets.engine.project import Project


def _resource_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(ProjectConfig)
    return {setting.name: (hints[setting.name],
                           pydantic.Field(default=setting.default,
                                          description=f"{setting.metadata['doc']} "
                                                      f"(`{setting.metadata['env']}`)"))
            for setting in dataclasses.fields(ProjectConfig)}


_OcrConfigFields = pydantic.create_model("OcrConfigFields", __base__=dg.ConfigurableResource,
                                         **_resource_fields())


class OcrConfig(_OcrConfigFields):  # type: ignore[misc, valid-type]
    """Where scans, outputs and the manifest live, and how pages are OCRed."""

    _project: Project | None = PrivateAttr(default=None)

    @classmethod
    def from_config(cls, config: ProjectConfig) -> OcrConfig:
        return cls(**dataclasses.asdict(config))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OcrConfig:
        """The resource of a deployment: `OCR_ASSETS_*` variables, paths made absolute."""
        return cls.from_config(ProjectConfig.from_environ(environ))

    def config(self) -> ProjectConfig:
        return ProjectConfig(**{setting.name: getattr(self, setting.name)
                                for setting in dataclasses.fields(ProjectConfig)})

    def project(self) -> Project:
        """The engine's context of this configuration, built on first use."""
        if self._project is None:
            self._project = Project(self.config())
        return self._project


def run_config(config: ProjectConfig) -> dict[str, Any]:
    """The run config that gives the `ocr` resource exactly `config` (every field: a field
    left out would take its default, not the deployment's value)."""
    return {"resources": {"ocr": {"config": dataclasses.asdict(config.absolute())}}}
