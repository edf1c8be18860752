"""The corpus's freshness policy as Dagster's freshness daemon evaluates it (the state the UI
shows), on the definitions loaded by a code server from the checkout as a deployment loads them:
unknown before the first build, passing after it, failing once the build is older than a day.
The daemon's own evaluation is driven one iteration at a time, with the clock moved."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon

from ocr_assets_tests.helpers import REPO

CORPUS = dg.AssetKey("ocr_corpus")


def test_the_freshness_daemon_evaluates_the_corpus_policy(tmp_path: Path) -> None:
    target = ModuleTarget(module_name="ocr_assets.definitions", attribute=None,
                          working_directory=str(REPO), location_name="ocr_assets")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert instance.freshness_enabled, "on by default: `dagster dev` runs the daemon"
        with create_test_daemon_workspace_context(target, instance) as workspace:
            daemon = FreshnessDaemon()

            def state() -> FreshnessState | None:
                asyncio.run(daemon._evaluate_assets(workspace))
                record = instance.get_freshness_state_records([CORPUS]).get(CORPUS)
                return record.freshness_state if record else None

            assert state() == FreshnessState.UNKNOWN
            instance.report_runless_asset_event(dg.AssetMaterialization(CORPUS))
            assert state() == FreshnessState.PASS
            with freeze_time(time.time() + 25 * 3600):
                assert state() == FreshnessState.FAIL
