"""The Dagster UI end to end, in a real browser, the way a person uses it.

One `scripts/ui.sh` (webserver and daemon) serves the whole module against a temporary instance
whose scans root starts as a copy of `data/scans`: its sensor OCRs every sample folder through
the daemon, as for a new user (the README's promise). Then the test stops the sensors and adds
its own folders: a clean one, one with a broken, a blank and a noise page, and one that was
moved away after it was registered (its run failed). The tests then click through the UI:
the asset graph and its lineage, materializing one partition, its checks and metadata, and a
backfill of only the failed and missing partitions. The backfill test comes last: it launches
runs that change what the other tests look at.

`scripts/screenshots.sh` runs this module with `OCR_ASSETS_SCREENSHOTS=docs/ui` to refresh the
README's screenshots.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr_assets.engine.folder.registry import list_scan_folders, register_folders
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.ui import dev_command
from ocr_assets_tests.e2e.dagster_ui import (
    CHROMIUM_ARGS,
    LOOPBACK_HEX,
    REPO_ROOT,
    VIEWPORT,
    UiServer,
    chromium_executable,
    listening_addresses,
    poll,
    running_ui,
    screenshot,
    sensor_state,
    skip_or_fail,
    stop_automation,
    unhealthy_daemons,
)
from ocr_assets_tests.helpers import FIXTURES
from ocr_assets_tests.project_defs import page_texts

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture skips (or, in CI, fails) saying so
    sync_playwright = None

SAMPLE_SCANS = Path(__file__).resolve().parents[2] / "data" / "scans"
SAMPLE_TRUNCATED = SAMPLE_SCANS / "box-002-damaged" / "truncated_image.png"
CLEAN, DAMAGED, MOVED = "box-004", "box-005-damaged", "box-006-moved"
"""The test's own folders, named apart from the sample folders."""
SAMPLE_RUNS_TIMEOUT_S = 600
"""One queued run per sample folder: about 50 s on an idle 2-core machine."""
RUN_TIMEOUT_MS = 300_000
"""A run through the queue and the daemon takes ~20 s on an idle 2-core machine."""
UI_TIMEOUT_MS = 60_000
GRAPH_VIEWPORT = {**VIEWPORT, "height": 1350}
"""Tall enough for the lineage graph's three groups at the UI's initial zoom (screenshot)."""
PLOTTED = frozenset({"pages_per_s", "median_page_s", "failure_rate", "mean_confidence"})
"""The numbers the README tells users to watch in the Plots view, one chart each."""


def write_noise_page(path: Path) -> None:
    """A page of random symbols: Tesseract reads it as low-confidence garbage, not as empty."""
    rng = random.Random(1)
    image = Image.new("L", (1200, 500), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for y in range(30, 470, 55):
        draw.text((30, y), "".join(rng.choice("~^%@#{}|;:=_<>") for _ in range(36)),
                  fill=0, font=font)
    image.save(path)


def write_test_folders(scans: Path) -> None:
    """`box-004`: one clean page. `box-005-damaged`: a clean page, a blank page, a noise page
    and the sample data's truncated PNG. `box-006-moved`: one page (removed later)."""
    clean, damaged, moved = scans / CLEAN, scans / DAMAGED, scans / MOVED
    for folder in (clean, damaged, moved):
        folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "pages" / "phototest.tif", clean / "phototest.tif")
    shutil.copy(FIXTURES / "pages" / "phototest.tif", damaged / "phototest.tif")
    Image.new("L", (600, 800), 255).save(damaged / "blank.png")
    write_noise_page(damaged / "noise.png")
    shutil.copy(SAMPLE_TRUNCATED, damaged / "truncated_image.png")
    shutil.copy(FIXTURES / "pages" / "phototest.tif", moved / "phototest.tif")


@dataclass
class UiProject:
    server: UiServer
    home: Path
    """The Dagster home `scripts/ui.sh` chose: `<data root>/dagster_home`."""
    startup: dict
    """What the command had running before the test stopped it: sensor, daemons, sockets,
    and the runs its sensor launched for the sample folders."""
    sample_folders: set[str]
    """The partition keys of the folders of `data/scans`."""


def prepare_partitions(scans: Path, data: Path, home: Path) -> None:
    """What the sensor does (the test's folders become partitions), then a run of the moved
    folder that failed because it was gone: one partition materializable, one missing, one
    failed."""
    write_test_folders(scans)
    ocr = OcrConfig(scans_root=str(scans), data_root=str(data), workers=2)
    scan = list_scan_folders(scans)
    scan.folders = {key: name for key, name in scan.folders.items()
                    if key in (CLEAN, DAMAGED, MOVED)}
    register_folders(ocr.project().manifest, scan)
    shutil.rmtree(scans / MOVED)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(scan_folders.name, sorted(scan.folders))
        result = dg.materialize([page_texts], partition_key=MOVED, instance=instance,
                                resources={"ocr": ocr}, raise_on_error=False)
    ocr.project().manifest.close()
    assert not result.success, "the run of the removed folder should have failed"


def completed_sensor_tick(server: UiServer) -> dict | None:
    """The scan-folder sensor's state once the daemon has finished one of its ticks."""
    state = sensor_state(server, "scan_folder_sensor")
    done = any(tick["status"] in ("SKIPPED", "SUCCESS") for tick in state["ticks"])
    return state if done else None


FOLDER_RUNS = """
{ runsOrError(filter: {pipelineName: "ocr_folder_job"}) {
    ... on Runs { results { status tags { key value } } } } }"""


def finished_folder_runs(server: UiServer, folders: int) -> list[dict] | None:
    """The runs of `ocr_folder_job` once there are `folders` of them and all have ended."""
    runs = server.graphql(FOLDER_RUNS)["runsOrError"]["results"]
    ended = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    return runs if len(runs) >= folders and len(ended) == len(runs) else None


def daemons_unhealthy_after(server: UiServer, timeout: float) -> list[str]:
    """The daemons still unhealthy once all are healthy, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (unhealthy := unhealthy_daemons(server)) and time.monotonic() < deadline:
        time.sleep(1)
    return unhealthy


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProject]:
    """`scripts/ui.sh` on a free port with a copy of `data/scans`: it starts with its sensors
    running, which OCR every sample folder (recorded for the tests of the command); then the
    test stops them, so only its clicks launch runs, and adds its own folders."""
    root = tmp_path_factory.mktemp("ui")
    scans, data = root / "scans", root / "data"
    shutil.copytree(SAMPLE_SCANS, scans)
    sample_folders = set(list_scan_folders(scans).folders)
    env = {k: v for k, v in os.environ.items()
           if k != "DAGSTER_HOME" and not k.startswith("OCR_ASSETS_")}
    env.update(OCR_ASSETS_SCANS=str(scans), OCR_ASSETS_DATA=str(data), OCR_ASSETS_WORKERS="2")
    with running_ui(env, root / "ui.log") as server:
        ticked = poll(lambda: completed_sensor_tick(server), "a first tick of scan_folder_sensor",
                      timeout=120)
        sample_runs = poll(lambda: finished_folder_runs(server, len(sample_folders)),
                           "one finished sensor run per sample folder",
                           timeout=SAMPLE_RUNS_TIMEOUT_S, interval=2)
        startup = {
            "sensor": ticked,
            "sample_runs": sample_runs,
            "unhealthy_daemons": daemons_unhealthy_after(server, timeout=60),
            "listening": listening_addresses(server.port),
            "stopped": stop_automation(server),
        }
        home = data / "dagster_home"
        prepare_partitions(scans, data, home)
        yield UiProject(server, home, startup, sample_folders)


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if executable is None or not executable.exists():
        where = f"{executable} does not exist" if executable else "no chromium on PATH"
        skip_or_fail(f"Chromium not found ({where}): install Debian's package (apt-get "
                     "install chromium) or set OCR_ASSETS_CHROMIUM to a Chromium executable")
    if sync_playwright is None:
        skip_or_fail("playwright is not installed: scripts/setup.sh installs the test extras")
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def browser_tab(browser, ui: UiProject):
    """A fresh browser context (no state from other tests) with one tab on the UI."""
    context = browser.new_context(viewport=VIEWPORT, base_url=ui.server.url)
    # Dagster's "join the community" dialog on localhost: dismissed as a click on Skip would.
    context.add_init_script("window.localStorage.setItem('communityNux', '\"1\"')")
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser, ui: UiProject):
    with browser_tab(browser, ui) as tab:
        yield tab


def graph_node(page, name: str):
    """An asset's node in the lineage graph (the SVG), not its name elsewhere on the page."""
    return page.locator("svg foreignObject").get_by_text(name, exact=True)


def innermost(page, *texts: str):
    """The smallest element that holds all these texts (a section: its heading and content)."""
    found = page.locator("div")
    for text in texts:
        found = found.filter(has=page.get_by_text(text, exact=True))
    return found.last


def metadata_value(section, key: str):
    """The value cell of the metadata row `key` in a materialization's metadata table."""
    key_cell = section.page.locator("td:first-child").get_by_text(key, exact=True)
    return section.locator("tr").filter(has=key_cell).first.locator("td").nth(1)


def plot(section, key: str):
    """The chart titled `key` in the Plots view of an asset's metadata: the smallest block
    holding that title and a chart's canvas."""
    return section.locator("div").filter(has=section.page.get_by_text(key, exact=True)).filter(
        has=section.page.locator("canvas")).last


def open_materialize_dialog(page):
    """The group `ocr` (page_texts and failed_pages): "Materialize all…"."""
    page.goto("/locations/ocr_assets/asset-groups/ocr")
    expect(graph_node(page, "page_texts")).to_be_visible()
    page.get_by_role("button", name="Materialize all…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Launch runs to materialize 2 assets")).to_be_visible()
    return dialog


def selected_partitions(dialog, count: int) -> set[str]:
    """The partition keys shown as selected tags (with a remove button) in the launch dialog,
    once there are `count` of them."""
    tags = dialog.locator("[data-tooltip]").filter(
        has=dialog.page.get_by_role("img", name="close"))
    expect(tags).to_have_count(count)
    return {tag.get_attribute("data-tooltip") for tag in tags.all()}


def view_from_toast(page) -> None:
    """Click "View" on the toast that a launch shows."""
    page.get_by_role("button", name="View", exact=True).or_(
        page.get_by_role("link", name="View", exact=True)).first.click()


RUN_STATUS = """
query RunStatus($id: ID!) {
  runOrError(runId: $id) { ... on Run { status tags { key value } assetSelection { path } } }
}"""


@pytest.fixture(scope="module")
def clicked_run(browser, ui: UiProject) -> dict:
    """Materialize the damaged folder from the UI: select its partition, launch one run, open
    it from the toast, and wait for it to end."""
    with browser_tab(browser, ui) as page:
        dialog = open_materialize_dialog(page)
        dialog.get_by_text("Select a partition or create one").click()
        page.locator("label").filter(has_text=DAMAGED).click()
        page.keyboard.press("Escape")  # closes the partition list, not the dialog
        expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
        assert selected_partitions(dialog, 1) == {DAMAGED}
        dialog.get_by_role("button", name="Launch 1 run").click()
        view_from_toast(page)
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
        run_id = page.url.rstrip("/").rsplit("/", 1)[1]
        status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
        expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
        shown = status.inner_text()
    run = ui.server.graphql(RUN_STATUS, {"id": run_id})["runOrError"]
    return {"id": run_id, "shown": shown, **run}


@pytest.mark.parametrize(("args", "host", "port"), [
    ([], "127.0.0.1", "3000"),
    (["--port", "3001", "--host", "0.0.0.0"], "0.0.0.0", "3001"),
])
def test_ui_command_line_defaults_to_loopback_and_lets_options_override(
        args: list[str], host: str, port: str) -> None:
    """As `dagster dev`'s own parser reads the command line `scripts/ui.sh` builds."""
    from dagster._cli.dev import dev_command as dagster_dev

    command = dev_command(args)
    assert command[1:4] == ["-m", "dagster", "dev"]
    params = dagster_dev.make_context("dev", command[4:]).params
    assert (params["host"], params["port"]) == (host, port)
    assert params["workspace"] == (str(REPO_ROOT / "workspace.yaml"),)


def test_ui_command_serves_on_loopback_with_the_daemon_and_sensors_running(
        ui: UiProject) -> None:
    assert ui.startup["sensor"]["status"] == "RUNNING"
    assert ui.startup["unhealthy_daemons"] == []
    assert ui.startup["listening"], "nothing listens on the UI's port"
    assert ui.startup["listening"] <= LOOPBACK_HEX, ui.startup["listening"]
    assert "scan_folder_sensor" in ui.startup["stopped"]
    assert (ui.home / "dagster.yaml").read_bytes() == PROJECT_INSTANCE_YAML.read_bytes()


def test_ui_command_ocrs_every_sample_folder_with_its_sensor(ui: UiProject) -> None:
    """The README's "ready to use on the sample data": no click, one sensor run per folder of
    `data/scans`, each through the daemon's queue to success."""
    runs = ui.startup["sample_runs"]
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert sorted(t["dagster/partition"] for t in tags) == sorted(ui.sample_folders)
    assert {t["ocr_assets/trigger"] for t in tags} == {"sensor"}
    assert [r["status"] for r in runs] == ["SUCCESS"] * len(runs), ui.server.log_tail()


def test_asset_graph_shows_the_assets_and_their_lineage(page, clicked_run: dict) -> None:
    """(After the clicked run only so that the screenshot shows a materialized folder.)"""
    page.set_viewport_size(GRAPH_VIEWPORT)
    page.goto("/asset-groups?expanded=global@global:ocr,global@global:quality,"
              "global@global:corpus")
    for name in ("page_texts", "failed_pages", "page_accuracy", "ocr_corpus"):
        expect(graph_node(page, name)).to_be_visible()
    nodes = page.locator("svg foreignObject")
    expect(nodes.get_by_text("Loading…")).to_have_count(0)
    expect(nodes.get_by_text(re.compile(r"% filled")).first).to_be_visible()
    screenshot(page, "asset-graph")

    # The graph's own selection syntax: everything upstream of the corpus is page_texts only.
    page.locator(".CodeMirror").first.click()
    page.keyboard.type("+key:ocr_corpus")
    page.keyboard.press("Enter")
    for name in ("failed_pages", "page_accuracy"):
        expect(graph_node(page, name)).to_have_count(0)
    expect(graph_node(page, "page_texts")).to_be_visible()
    expect(graph_node(page, "ocr_corpus")).to_be_visible()

    page.goto("/assets/page_texts")
    downstream = page.get_by_text("Downstream assets", exact=True).locator("xpath=..")
    for name in ("failed_pages", "page_accuracy", "ocr_corpus"):
        expect(downstream.get_by_role("link", name=name)).to_be_visible()
    upstream_heading = page.get_by_text("Upstream assets", exact=True)
    expect(upstream_heading).to_be_visible()  # else the count below would pass without it
    expect(upstream_heading.locator("xpath=..").get_by_role("link")).to_have_count(0)


def test_materializing_one_partition_by_clicking_succeeds(clicked_run: dict) -> None:
    assert clicked_run["shown"] == "Success"
    assert clicked_run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in clicked_run["tags"]}
    assert tags["dagster/partition"] == DAMAGED
    assert {"/".join(a["path"]) for a in clicked_run["assetSelection"]} == {
        "page_texts", "failed_pages"}


def test_checks_show_on_the_asset_and_name_the_pages(page, clicked_run: dict) -> None:
    page.goto("/assets/page_texts?view=checks")
    for check, result, description in (
            ("counts_invariant", "Passed", None),
            ("empty_pages", "Failed", "1 empty pages: blank.png"),
            ("garbage_pages", "Failed", "1 garbage pages: noise.png")):
        page.get_by_text(check, exact=True).first.click()
        latest = innermost(page, "Latest execution", "Evaluation result")
        expect(latest.get_by_text(result, exact=True)).to_be_visible()
        expect(latest.get_by_text(DAMAGED, exact=True)).to_be_visible()
        if description:
            expect(latest.get_by_text(description)).to_be_visible()
            expect(latest.get_by_role("img", name="warning_outline")).to_be_visible()
        if check == "empty_pages":
            screenshot(page, "partition-checks")


def test_partition_metadata_shows_counts_speed_confidence_and_failures(
        page, clicked_run: dict) -> None:
    page.goto(f"/assets/page_texts?view=partitions&partition={DAMAGED}")
    metadata = innermost(page, "Metadata", "pages_per_s")
    for key, value in (("pages", "4"), ("done", "3"), ("failed", "1"), ("pending", "0")):
        expect(metadata_value(metadata, key)).to_have_text(value)
    for key in ("pages_per_s", "mean_confidence", "failure_rate"):
        expect(metadata_value(metadata, key)).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    expect(metadata_value(metadata, "failure_rate")).to_have_text("0.25")
    failures = metadata_value(metadata, "failures")
    expect(failures).to_contain_text("truncated_image.png")
    expect(failures).to_contain_text("unreadable_image")
    screenshot(page, "partition-metadata")

    page.goto("/assets/page_texts")
    overview_metadata = innermost(page, "Metadata", "Plots")
    overview_metadata.get_by_role("button", name="Plots").click()
    overview_metadata.get_by_role("button", name="Events").click()
    for key in PLOTTED:
        chart = plot(overview_metadata, key)
        expect(chart.locator("canvas")).to_have_count(1)
        expect(chart.locator("canvas")).to_be_visible()
        for other in PLOTTED - {key}:  # its own chart, not one shared with the others
            expect(chart.get_by_text(other, exact=True)).to_have_count(0)

    page.goto(f"/assets/failed_pages?view=partitions&partition={DAMAGED}")
    report = innermost(page, "Metadata", "by_category")
    expect(metadata_value(report, "failed")).to_have_text("1")
    expect(metadata_value(report, "pages")).to_contain_text("truncated_image.png")
    screenshot(page, "failed-pages-report")


def test_backfill_of_failed_and_missing_partitions_selects_exactly_those(
        page, ui: UiProject, clicked_run: dict) -> None:
    dialog = open_materialize_dialog(page)
    dialog.get_by_role("button", name="Failed and missing").click()
    expect(dialog.get_by_text("2 partitions", exact=True)).to_be_visible()
    assert selected_partitions(dialog, 2) == {CLEAN, MOVED}
    screenshot(page, "backfill-failed-and-missing")
    dialog.get_by_role("button", name="Launch backfill").click()

    toast = page.get_by_text(re.compile(r"^Created backfill \w+$"))
    expect(toast).to_be_visible()
    backfill_id = toast.inner_text().rsplit(" ", 1)[1]
    view_from_toast(page)
    expect(page).to_have_url(re.compile(f"/runs/b/{backfill_id}"))
    selection = page.get_by_text("Partition selection", exact=True).locator("xpath=..")
    for key in (CLEAN, MOVED):
        expect(selection.get_by_text(key, exact=True)).to_be_visible()
    expect(selection.get_by_text(DAMAGED, exact=True)).to_have_count(0)

    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        backfill = instance.get_backfill(backfill_id)
    targeted = backfill.asset_backfill_data.target_subset.partitions_subsets_by_asset_key
    assert {key.to_user_string(): set(subset.get_partition_keys())
            for key, subset in targeted.items()} == {
        "page_texts": {CLEAN, MOVED}, "failed_pages": {CLEAN, MOVED}}
