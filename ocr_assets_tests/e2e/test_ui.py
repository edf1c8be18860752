"""The Dagster UI end to end, in a real browser: the README's "What to click", step by step.

One `scripts/ui.sh` (webserver and daemon) serves the whole module against a temporary instance
whose scans root starts as a copy of `data/scans`: its sensor OCRs every sample folder through
the daemon, as for a new user (the README's promise). Then the test stops the sensors and adds
its own folders, as the sensor would have seen them: a clean one never run, one with a good, a
blank, a noise, a truncated page and an empty file, and one that was moved away after it was
registered (its run failed), the new and the moved one side by side in the partitions' order.
Then each test walks one step of the README's "What to click"
(`docs/ui.md` holds what each screen says), in the README's order, clicking as a person does:

1. the lineage: `page_texts` > Lineage, and `scan_folders` > Observe;
2. materialize one folder: Jobs > `ocr_folder_job` > Materialize all…, one partition;
3. a folder's checks: `page_texts` > Checks > a check > Partitions > the folder;
4. a folder's numbers: `page_texts` > Partitions > the folder, against `ocr-assets status`;
5. rerun the failed pages of a folder: Jobs > `retry_failed_pages_job` > Materialize all…;
6. backfill the failed and missing folders: Jobs > `ocr_folder_job` > Failed and missing: one
   run over both (a range), in which the moved folder fails alone.

The backfill comes last: it launches runs that change what the other steps look at.
`scripts/screenshots.sh` runs this module with `OCR_ASSETS_SCREENSHOTS=docs/ui` to refresh the
README's screenshots.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr_assets.engine.folder.registry import folder_signature, list_scan_folders, register_folders
from ocr_assets.engine.manifest import FAILED
from ocr_assets.orchestration.batches import partitions_of_run
from ocr_assets.orchestration.instance import PROJECT_INSTANCE_YAML, render_instance_yaml
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.provenance import INPUT_DATA_VERSION_TAG
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    DATA_VERSION_TAG,
    FAILED_FOLDERS,
    SCAN_FOLDERS,
    TAG_PAGES,
)
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
from ocr_assets_tests.project_defs import materialization, run_folders

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture skips (or, in CI, fails) saying so
    sync_playwright = None

SAMPLE_SCANS = Path(__file__).resolve().parents[2] / "data" / "scans"
DAMAGED, CLEAN, MOVED = "box-004-damaged", "box-005", "box-006-moved"
"""The test's own folders, named apart from the sample folders; their partitions are added in
this order, so the two that step 6 backfills are consecutive and share one run."""
FAILED_PAGE, BLANK, NOISE, TRUNCATED = "empty.png", "blank.png", "noise.png", "truncated.png"
"""The damaged folder's pages that a check names: failed (an empty file), empty, garbage and
partial (the retry pass reads the readable top of the truncated file)."""
FOLDER_JOB, RETRY_JOB = "ocr_folder_job", "retry_failed_pages_job"
FOLDER_ASSETS = {"page_texts", "failed_pages", "page_accuracy"}
"""What both jobs materialize for every folder: the assets of the folder step
`ocr_scan_folders` (and `searchable_pdf`, which they select, for folders that ask for it)."""
JOB_ASSETS = FOLDER_ASSETS | {"searchable_pdf"}
"""What both jobs select."""
SAMPLE_RUNS_TIMEOUT_S = 600
"""The sensor's runs over the sample folders: about 50 s on an idle 2-core machine."""
RUN_TIMEOUT_MS = 300_000
"""A run through the queue and the daemon takes ~20 s on an idle 2-core machine."""
UI_TIMEOUT_MS = 60_000
LINEAGE_VIEWPORT = {**VIEWPORT, "height": 1100}
"""Tall enough for the lineage tab's three groups at the UI's initial zoom (screenshot)."""
PLOTTED = frozenset({"pages_per_s", "median_page_s", "failure_rate", "mean_confidence"})
"""The numbers the README tells users to watch in the Plots view, one chart each."""
WARNINGS = {"no_failed_pages": None, "empty_pages": "empty", "garbage_pages": "garbage",
            "partial_pages": "partial"}
"""The warning checks on page_texts, and the flag each names pages for (None: failed pages)."""
MISSING_FOLDER_LINE = "does not exist; restore it, or delete the partition (`ocr-assets forget`)"


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


def write_truncated_page(path: Path) -> None:
    """A good page as PNG cut at 60 % of its bytes: unreadable whole, its top half readable."""
    buffer = io.BytesIO()
    Image.open(FIXTURES / "pages" / "phototest.tif").convert("L").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: int(len(buffer.getvalue()) * 0.6)])


def write_test_folders(scans: Path) -> None:
    """`box-004-damaged`: a clean page, a blank page, a noise page, a truncated page and an
    empty file. `box-005`: one clean page. `box-006-moved`: one page (removed later)."""
    clean, damaged, moved = scans / CLEAN, scans / DAMAGED, scans / MOVED
    for folder in (clean, damaged, moved):
        folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "pages" / "phototest.tif", clean / "phototest.tif")
    shutil.copy(FIXTURES / "pages" / "phototest.tif", damaged / "phototest.tif")
    Image.new("L", (600, 800), 255).save(damaged / BLANK)
    write_noise_page(damaged / NOISE)
    write_truncated_page(damaged / TRUNCATED)
    (damaged / FAILED_PAGE).write_bytes(b"")
    shutil.copy(FIXTURES / "pages" / "phototest.tif", moved / "phototest.tif")


@dataclass
class UiProject:
    server: UiServer
    scans: Path
    data: Path
    home: Path
    """The Dagster home `scripts/ui.sh` chose: `<data root>/dagster_home`."""
    startup: dict
    """What the command had running before the test stopped it: sensor, daemons, sockets,
    and the runs its sensor launched for the sample folders."""
    sample_folders: set[str]
    """The partition keys of the folders of `data/scans`."""

    def status(self, key: str) -> dict:
        """`ocr-assets status --json` for one folder, as a user runs it."""
        result = subprocess.run([sys.executable, "-m", "ocr_assets.cli", "status", "--json",
                                 "--data", str(self.data)], capture_output=True, text=True,
                                timeout=120, check=True, cwd=REPO_ROOT)
        [folder] = [f for f in json.loads(result.stdout)["folders"] if f["partition"] == key]
        return folder

    def attempts(self, key: str, page_id: str) -> int:
        """A page's attempts, as the manifest counts them."""
        ocr = OcrConfig(scans_root=str(self.scans), data_root=str(self.data))
        try:
            return ocr.project().manifest.pages(key)[page_id].attempts
        finally:
            ocr.project().close()


def prepare_partitions(scans: Path, data: Path, home: Path) -> None:
    """What the sensor does (the test's folders become partitions, each observed as it is on
    disk), then a run of the moved folder that failed because it was gone: one partition
    materializable, one missing, one failed."""
    write_test_folders(scans)
    ocr = OcrConfig(scans_root=str(scans), data_root=str(data), workers=2)
    scan = list_scan_folders(scans)
    scan.folders = {key: name for key, name in scan.folders.items()
                    if key in (CLEAN, DAMAGED, MOVED)}
    register_folders(ocr.project().manifest, scan)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(scan_folders.name, [DAMAGED, CLEAN, MOVED])
        for key, name in scan.folders.items():
            instance.report_runless_asset_event(dg.AssetObservation(
                asset_key=SCAN_FOLDERS, partition=key,
                tags={DATA_VERSION_TAG: folder_signature(scans / name)}))
        shutil.rmtree(scans / MOVED)
        result = run_folders(instance, ocr, MOVED)
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


def run_partitions(run: dict, home: Path) -> list[str]:
    """The partitions a run (as GraphQL gives it) covers: its one, or its range."""
    tags = {t["key"]: t["value"] for t in run["tags"]}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        order = instance.get_dynamic_partitions(scan_folders.name)
    return partitions_of_run(tags, order)


def finished_folder_runs(server: UiServer, home: Path, folders: set[str]) -> list[dict] | None:
    """The runs of `ocr_folder_job` once they cover the `folders` and all have ended."""
    runs = server.graphql(FOLDER_RUNS)["runsOrError"]["results"]
    ended = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    covered = {key for run in runs for key in run_partitions(run, home)}
    return runs if covered >= folders and len(ended) == len(runs) else None


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
        sample_runs = poll(lambda: finished_folder_runs(server, data / "dagster_home",
                                                        sample_folders),
                           "finished sensor runs over every sample folder",
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
        yield UiProject(server, scans, data, home, startup, sample_folders)


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
        page = context.new_page()
        page.goto("/")
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, ui: UiProject):
    with browser_tab(browser, ui) as tab:
        yield tab


# What a person clicks, one helper per kind of click.

LEFT_BAR = {"Overview": "/overview", "Runs": "/runs", "Catalog": "/assets", "Jobs": "/jobs",
            "Automation": "/automation", "Lineage": "/asset-groups"}


def left_bar(page, item: str) -> None:
    """An entry of the UI's left bar: Catalog, Jobs, Runs, Lineage, ..."""
    entry = page.locator(f'a[href="{LEFT_BAR[item]}"]').filter(has_text=item)
    entry.first.click()
    expect(page).to_have_url(re.compile(LEFT_BAR[item]))


def open_asset(page, name: str) -> None:
    """Catalog, then the asset's name in the list."""
    left_bar(page, "Catalog")
    page.locator(f'a[href="/assets/{name}"]').first.click()
    expect(page).to_have_url(re.compile(f"/assets/{name}(\\?|$)"))


def asset_tab(page, tab: str) -> None:
    """A tab of an asset's page: Overview, Partitions, Events, Checks, Lineage."""
    page.get_by_role("tab", name=tab, exact=True).or_(
        page.get_by_role("link", name=tab, exact=True)).first.click()


def open_job(page, job: str, assets: int):
    """Jobs, then the job, then its "Materialize all…": the launch dialog, for `assets` assets
    (the button counts them only when the job has assets it cannot materialize)."""
    left_bar(page, "Jobs")
    page.locator(f'a[href$="/jobs/{job}"]').first.click()
    button = page.get_by_role("button", name="Materialize all…")
    expect(button).to_be_enabled()
    button.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Launch runs to materialize {assets} assets")).to_be_visible()
    return dialog


def pick_partition(dialog, key: str) -> None:
    """The partition picker: open the list, tick the folder, close the list."""
    dialog.get_by_text("Select a partition or create one").click()
    dialog.page.locator("label").filter(has_text=key).click()
    partition_list = dialog.page.get_by_placeholder("Filter partitions")
    for _ in range(3):  # Escape closes the partition list, not the dialog
        dialog.page.keyboard.press("Escape")
        try:
            expect(partition_list).to_be_hidden(timeout=2000)
            break
        except AssertionError:
            continue
    expect(partition_list).to_be_hidden()
    expect(dialog).to_be_visible()


def pick_folder(page, key: str) -> None:
    """A folder in the partition list of an asset's or a check's Partitions tab."""
    page.get_by_text(key, exact=True).filter(visible=True).first.click()


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


def finished_run_from_toast(page) -> tuple[str, str]:
    """View the launched run from the toast, wait until it ends; its id and shown status."""
    view_from_toast(page)
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
    return run_id, status.inner_text()


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


def table_row(cell, first: str):
    """The cells of the row starting with `first` in a markdown table shown in a cell."""
    return cell.locator("tr").filter(
        has=cell.page.locator("td:first-child").get_by_text(first, exact=True)).first.locator("td")


def plot(section, key: str):
    """The chart titled `key` in the Plots view of an asset's metadata: the smallest block
    holding that title and a chart's canvas."""
    return section.locator("div").filter(has=section.page.get_by_text(key, exact=True)).filter(
        has=section.page.locator("canvas")).last


def folder_metadata(page, key: str):
    """Step 4: Catalog > page_texts > Partitions > the folder: its metadata table."""
    open_asset(page, "page_texts")
    asset_tab(page, "Partitions")
    pick_folder(page, key)
    metadata = innermost(page, "Metadata", "failure_rate")
    expect(metadata_value(metadata, "folder")).to_have_text(key)
    return metadata


RUN = """
query Run($id: ID!) {
  runOrError(runId: $id) { ... on Run {
    jobName status tags { key value } assetSelection { path } stepStats { stepKey status } } }
}"""


def run_of(ui: UiProject, run_id: str, shown: str) -> dict:
    """The run as GraphQL gives it once it has ended, with its tags as a dict, its assets as
    names and its steps as (step, status) pairs. Waited for: the page can show the run's end
    (its RUN_SUCCESS event) a moment before the run's own status is written (CI once read
    STARTED just after the page said Success)."""
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    run = ui.server.graphql(RUN, {"id": run_id})["runOrError"]
    while run["status"] in ("QUEUED", "STARTING", "STARTED") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = ui.server.graphql(RUN, {"id": run_id})["runOrError"]
    return {"id": run_id, "shown": shown, **run,
            "tags": {t["key"]: t["value"] for t in run["tags"]},
            "assets": {"/".join(a["path"]) for a in run["assetSelection"]},
            "steps": [(s["stepKey"], s["status"]) for s in run["stepStats"]]}


@pytest.fixture(scope="module")
def clicked_run(browser, ui: UiProject) -> dict:
    """Step 2, materialize one folder: Jobs > ocr_folder_job > Materialize all…, the damaged
    folder in the partition picker, Launch 1 run, View on the toast; wait for the run to end."""
    with browser_tab(browser, ui) as page:
        dialog = open_job(page, FOLDER_JOB, assets=4)
        pick_partition(dialog, DAMAGED)
        expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
        assert selected_partitions(dialog, 1) == {DAMAGED}
        dialog.get_by_role("button", name="Launch 1 run").click()
        run = run_of(ui, *finished_run_from_toast(page))
    run["attempts"] = ui.attempts(DAMAGED, FAILED_PAGE)
    return run


def failed_page_attempts_shown(page, key: str, page_id: str) -> int:
    """The attempts column of a failed page in the folder's `failures` table (step 4)."""
    failures = metadata_value(folder_metadata(page, key), "failures")
    attempts = table_row(failures, page_id).nth(2)
    expect(attempts).to_have_text(re.compile(r"^\d+$"))
    return int(attempts.inner_text())


@pytest.fixture(scope="module")
def retried_run(browser, ui: UiProject, clicked_run: dict) -> dict:
    """Step 5, rerun the failed pages of a folder: Jobs > retry_failed_pages_job > Materialize
    all (3)…, the folder in the partition picker, Launch 1 run; the failed page's attempts in the
    folder's metadata before and after."""
    with browser_tab(browser, ui) as page:
        before = failed_page_attempts_shown(page, DAMAGED, FAILED_PAGE)
        dialog = open_job(page, RETRY_JOB, assets=4)
        pick_partition(dialog, DAMAGED)
        assert selected_partitions(dialog, 1) == {DAMAGED}
        screenshot(page, "retry-failed-pages")
        dialog.get_by_role("button", name="Launch 1 run").click()
        run = run_of(ui, *finished_run_from_toast(page))
        after = failed_page_attempts_shown(page, DAMAGED, FAILED_PAGE)
    return {**run, "shown_attempts": (before, after),
            "attempts": (clicked_run["attempts"], ui.attempts(DAMAGED, FAILED_PAGE))}


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
    assert (ui.home / "dagster.yaml").read_bytes() == render_instance_yaml(
        PROJECT_INSTANCE_YAML.read_text(), ui.home)


def test_ui_command_ocrs_every_sample_folder_with_its_sensor(ui: UiProject) -> None:
    """The README's "ready to use on the sample data": no click, sensor runs over every folder
    of `data/scans` (the folders of a tick share a run), each through the daemon's queue to
    success."""
    runs = ui.startup["sample_runs"]
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    covered = [key for run in runs for key in run_partitions(run, ui.home)]
    assert sorted(covered) == sorted(ui.sample_folders), "each folder in one run"
    assert {t["ocr_assets/trigger"] for t in tags} == {"sensor"}
    assert [r["status"] for r in runs] == ["SUCCESS"] * len(runs), ui.server.log_tail()


OBSERVATIONS = """
query Observations($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) { ... on Asset {
    assetObservations(limit: 100) { runId partition tags { key value } } } }
}"""


def test_1_lineage_runs_from_the_scan_folders_through_page_texts(
        page, ui: UiProject, clicked_run: dict) -> None:
    """Catalog > page_texts > Lineage: scan_folders -> page_texts -> failed_pages, page_accuracy,
    searchable_pdf, ocr_corpus; and scan_folders > Observe records every registered folder's files
    as they are.
    (After the clicked run only so that the screenshot shows a materialized folder.)"""
    page.set_viewport_size(LINEAGE_VIEWPORT)
    open_asset(page, "page_texts")
    upstream = page.get_by_text("Upstream assets", exact=True).locator("xpath=..")
    downstream = page.get_by_text("Downstream assets", exact=True).locator("xpath=..")
    expect(upstream.get_by_role("link")).to_have_count(1)
    expect(upstream.get_by_role("link", name="scan_folders")).to_be_visible()
    for name in ("failed_pages", "page_accuracy", "searchable_pdf", "ocr_corpus"):
        expect(downstream.get_by_role("link", name=name)).to_be_visible()
    expect(downstream.get_by_role("link")).to_have_count(4)

    asset_tab(page, "Lineage")
    nodes = page.locator("svg foreignObject")
    for name in ("scan_folders", "page_texts", "failed_pages", "page_accuracy", "ocr_corpus"):
        expect(nodes.get_by_text(name, exact=True)).to_be_visible()
    expect(nodes.get_by_text("Loading…")).to_have_count(0)
    expect(nodes.get_by_text(re.compile(r"% filled")).first).to_be_visible()
    screenshot(page, "asset-graph")

    # The scans asset's own button: one observation per registered folder on disk. A sample
    # folder touched since its run shows unsynced; the folder materialized above does not.
    changed = sorted(ui.sample_folders)[0]
    os.utime(next(p for p in (ui.scans / changed).iterdir() if p.is_file()))
    open_asset(page, "scan_folders")
    expect(page.get_by_text("Downstream assets", exact=True).locator("xpath=..").get_by_role(
        "link", name="page_texts")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"\bObserve$")).click()
    run_id, shown = finished_run_from_toast(page)
    assert shown == "Success", ui.server.log_tail()
    observed = {o["partition"]: {t["key"]: t["value"] for t in o["tags"]}[DATA_VERSION_TAG]
                for o in ui.server.graphql(OBSERVATIONS, {"key": {"path": ["scan_folders"]}})[
                    "assetOrError"]["assetObservations"] if o["runId"] == run_id}
    on_disk = list_scan_folders(ui.scans).folders
    assert observed == {key: folder_signature(ui.scans / name) for key, name in on_disk.items()}
    assert MOVED not in observed
    open_asset(page, "page_texts")
    asset_tab(page, "Partitions")
    for key, unsynced in ((changed, 1), (DAMAGED, 0)):
        pick_folder(page, key)
        expect(metadata_value(innermost(page, "Metadata", "failure_rate"), "folder")) \
            .to_have_text(key)
        expect(page.get_by_text(re.compile(r"^Unsynced")).filter(visible=True)) \
            .to_have_count(unsynced)


def test_2_materializing_one_folder_from_its_job(page, ui: UiProject,
                                                 clicked_run: dict) -> None:
    """One step, `ocr_scan_folders`, materializes the folder's three assets; the run launched
    from the dialog observes the folder first, like the sensor's, and the folder's text
    records that observation as its input: Dagster's data versions see what it read."""
    assert clicked_run["shown"] == "Success"
    assert clicked_run["status"] == "SUCCESS"
    assert clicked_run["jobName"] == FOLDER_JOB
    assert clicked_run["tags"]["dagster/partition"] == DAMAGED
    assert clicked_run["assets"] == JOB_ASSETS
    assert clicked_run["steps"] == [("ocr_scan_folders", "SUCCESS")]
    signature = folder_signature(ui.scans / DAMAGED)
    observed = [o for o in ui.server.graphql(OBSERVATIONS, {"key": {"path": ["scan_folders"]}})[
        "assetOrError"]["assetObservations"] if o["runId"] == clicked_run["id"]]
    assert [(o["partition"], {t["key"]: t["value"] for t in o["tags"]}[DATA_VERSION_TAG])
            for o in observed] == [(DAMAGED, signature)]
    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        texts = materialization(instance, clicked_run["id"], "page_texts", DAMAGED)
    assert texts.tags[INPUT_DATA_VERSION_TAG] == signature
    open_asset(page, "page_texts")
    asset_tab(page, "Partitions")
    pick_folder(page, DAMAGED)
    expect(page.get_by_text("Materialized", exact=True).filter(visible=True).first).to_be_visible()


def check_of_folder(page, check: str, key: str):
    """Step 3: (on page_texts' Checks tab) the check, its Partitions tab, the folder: the
    panel with its result, description and metadata."""
    page.get_by_text(check, exact=True).first.click()
    page.get_by_role("tab", name="Partitions", exact=True).last.click()
    pick_folder(page, key)
    result = innermost(page, "Latest execution", "Metadata")
    expect(result.get_by_text(key, exact=True).filter(visible=True).first).to_be_visible()
    return result


def test_3_a_folders_checks_name_its_pages(page, ui: UiProject, clicked_run: dict) -> None:
    """Catalog > page_texts > Checks > each check > Partitions > the folder: the counts
    invariant passed, and each warning names exactly the pages `ocr-assets status` lists."""
    status = ui.status(DAMAGED)
    flagged = {flag: sorted(e["page"] for e in status["flagged"]
                            if e["reason"].startswith(f"{flag}:"))
               for flag in ("empty", "garbage", "partial")}
    assert flagged == {"empty": [BLANK], "garbage": [NOISE], "partial": [TRUNCATED]}, status
    assert status["failed"] == 1

    open_asset(page, "page_texts")
    asset_tab(page, "Checks")
    result = check_of_folder(page, "counts_invariant", DAMAGED)
    expect(result.get_by_text("Passed", exact=True)).to_be_visible()
    expect(metadata_value(result, "done")).to_have_text(str(status["done"]))
    expect(metadata_value(result, "failed")).to_have_text(str(status["failed"]))
    for check, flag in WARNINGS.items():
        result = check_of_folder(page, check, DAMAGED)
        expect(result.get_by_text("Failed", exact=True)).to_be_visible()
        expect(result.get_by_role("img", name="warning_outline").first).to_be_visible()
        if flag is None:
            description = (f"{status['failed']} failed pages: {FAILED_PAGE} (unreadable_image); "
                           "rerun them with retry_failed_pages_job")
        else:
            description = f"{len(flagged[flag])} {flag} pages: {', '.join(flagged[flag])}"
        expect(result.get_by_text(description, exact=True)).to_be_visible()
        if check == "no_failed_pages":
            screenshot(page, "partition-checks")


def test_4_a_folders_numbers_are_what_status_says(page, ui: UiProject,
                                                  clicked_run: dict) -> None:
    """Catalog > page_texts > Partitions > the folder: pages, done, failed (pending when not 0)
    as `ocr-assets status --json` has them; the failures and flagged tables; the plots; and the
    failed-pages report under failed_pages > Partitions > the folder."""
    status = ui.status(DAMAGED)
    assert (status["pages"], status["done"], status["failed"], status["pending"]) == (5, 4, 1, 0)
    metadata = folder_metadata(page, DAMAGED)
    for key in ("pages", "done", "failed"):
        expect(metadata_value(metadata, key)).to_have_text(str(status[key]))
    expect(metadata.locator("td:first-child").get_by_text("pending", exact=True)).to_have_count(0)
    expect(metadata_value(metadata, "failure_rate")).to_have_text(
        str(round(status["failed"] / status["pages"], 4)))
    expect(metadata_value(metadata, "recovered")).to_have_text("1")
    for key in ("pages_per_s", "mean_confidence", "median_page_s"):
        expect(metadata_value(metadata, key)).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    failures = metadata_value(metadata, "failures")
    expect(table_row(failures, FAILED_PAGE).nth(1)).to_have_text("unreadable_image")
    expect(failures.locator("tr").filter(has_text=re.compile(r"\.(png|tif)"))).to_have_count(
        status["failed"])
    flagged_cell = metadata_value(metadata, "flagged")
    for entry in status["flagged"]:
        flag = entry["reason"].split(":")[0]
        expect(flagged_cell.locator("tr").filter(has_text=entry["page"]).filter(
            has_text=flag)).to_have_count(1)
    screenshot(page, "partition-metadata")

    asset_tab(page, "Overview")
    overview_metadata = innermost(page, "Metadata", "Plots")
    overview_metadata.get_by_role("button", name="Plots").click()
    overview_metadata.get_by_role("button", name="Events").click()
    for key in PLOTTED:
        chart = plot(overview_metadata, key)
        expect(chart.locator("canvas")).to_have_count(1)
        expect(chart.locator("canvas")).to_be_visible()
        for other in PLOTTED - {key}:  # its own chart, not one shared with the others
            expect(chart.get_by_text(other, exact=True)).to_have_count(0)

    open_asset(page, "failed_pages")
    asset_tab(page, "Partitions")
    pick_folder(page, DAMAGED)
    report = innermost(page, "Metadata", "by_category")
    expect(metadata_value(report, "failed")).to_have_text(str(status["failed"]))
    expect(metadata_value(report, "recovered")).to_have_text("1")
    expect(table_row(metadata_value(report, "pages"), FAILED_PAGE).nth(1)).to_have_text(
        "unreadable_image")
    expect(metadata_value(report, "report")).to_contain_text(
        f"reports/{DAMAGED}/failed_pages.csv")
    screenshot(page, "failed-pages-report")


def test_5_rerunning_a_folders_failed_pages_reads_them_again(ui: UiProject,
                                                           retried_run: dict) -> None:
    assert retried_run["shown"] == "Success"
    assert (retried_run["status"], retried_run["jobName"]) == ("SUCCESS", RETRY_JOB)
    assert retried_run["tags"][TAG_PAGES] == "failed"
    assert retried_run["tags"]["dagster/partition"] == DAMAGED
    assert retried_run["assets"] == JOB_ASSETS
    before, after = retried_run["attempts"]
    assert after > before, "the failed page was not read again"
    assert retried_run["shown_attempts"] == (before, after), "the UI shows the manifest's count"
    status = ui.status(DAMAGED)
    assert status["failed"] == 1, "an empty file stays failed"
    ocr = OcrConfig(scans_root=str(ui.scans), data_root=str(ui.data))
    try:
        rows = ocr.project().manifest.pages(DAMAGED)
    finally:
        ocr.project().close()
    assert {p for p, row in rows.items() if row.status == FAILED} == {FAILED_PAGE}


BACKFILL_RUNS_TIMEOUT_S = 300
"""The backfill daemon's launch and one run through the queue: ~30 s on an idle 2-core machine."""


def finished_backfill(instance: dg.DagsterInstance,
                      backfill_id: str) -> list[dg.DagsterRun] | None:
    """The backfill's runs once it has launched them all and all have ended."""
    if instance.get_backfill(backfill_id).status.value == "REQUESTED":
        return None
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    return runs if all(run.is_finished for run in runs) else None


def partition_statuses(instance: dg.DagsterInstance, asset: str,
                       keys: list[str]) -> dict[str, str]:
    """What the UI shows for each partition of `asset`: MATERIALIZED, FAILED, ..."""
    found = instance.get_status_by_partition(dg.AssetKey(asset), keys, scan_folders) or {}
    return {key: status.value for key, status in found.items() if status is not None}


def test_6_backfill_of_failed_and_missing_folders_picks_exactly_those(
        page, ui: UiProject, clicked_run: dict, retried_run: dict) -> None:
    """Jobs > ocr_folder_job > Materialize all…, Failed and missing: the never-run and the
    failed folder, not the folders that went through (with failed pages or not). First, why
    the failed folder's run failed, from its partition: one line says its folder is missing.
    The backfill launches one run over the two (consecutive partitions: a range); the moved
    folder fails it alone, and the new folder is materialized by it all the same."""
    open_asset(page, "page_texts")
    asset_tab(page, "Partitions")
    pick_folder(page, MOVED)
    expect(page.get_by_text(re.compile(r"^Run \w+ failed, and did not materialize this asset"))
           .first).to_be_visible()
    page.get_by_role("button", name="View logs").click()
    logs = page.get_by_role("dialog")
    expect(logs.get_by_text(MISSING_FOLDER_LINE).first).to_be_visible()
    logs.get_by_role("button", name="Done").click()

    dialog = open_job(page, FOLDER_JOB, assets=4)
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
    expect(page.get_by_text("Partition selection", exact=True).locator("xpath=..").get_by_text(
        "2 partitions", exact=True)).to_be_visible()
    with dg.DagsterInstance.from_config(str(ui.home)) as instance:
        backfill = instance.get_backfill(backfill_id)
        runs = poll(lambda: finished_backfill(instance, backfill_id),
                    "the backfill's runs to end", timeout=BACKFILL_RUNS_TIMEOUT_S, interval=2)
        order = instance.get_dynamic_partitions(scan_folders.name)
        [run] = runs
        [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        clean_texts = materialization(instance, run.run_id, "page_texts", CLEAN)
        statuses = {asset: partition_statuses(instance, asset, [DAMAGED, CLEAN, MOVED])
                    for asset in sorted(FOLDER_ASSETS)}
    assert not backfill.is_asset_backfill, "a backfill of the job: ocr_folder_job runs"
    assert backfill.partition_set_origin.partition_set_name == f"{FOLDER_JOB}_partition_set"
    assert sorted(backfill.partition_names) == sorted([CLEAN, MOVED])
    assert {key.to_user_string() for key in backfill.asset_selection} == JOB_ASSETS
    assert (run.job_name, run.status) == (FOLDER_JOB, dg.DagsterRunStatus.FAILURE)
    assert partitions_of_run(run.tags, order) == [CLEAN, MOVED], "one run over the range"
    why = failure.dagster_event.step_failure_data.user_failure_data.metadata[FAILED_FOLDERS].data
    assert list(why) == [MOVED] and MISSING_FOLDER_LINE in why[MOVED], why
    assert clean_texts.metadata["done"].value == 1, "the new folder's page read in the run"
    expected = {DAMAGED: "MATERIALIZED", CLEAN: "MATERIALIZED", MOVED: "FAILED"}
    assert statuses == {asset: expected for asset in FOLDER_ASSETS}, "the moved folder alone"

    open_asset(page, "page_texts")
    asset_tab(page, "Partitions")
    pick_folder(page, CLEAN)
    expect(page.get_by_text("Materialized", exact=True).filter(visible=True).first).to_be_visible()
    pick_folder(page, MOVED)
    expect(page.get_by_text(re.compile(rf"^Run {run.run_id[:8]}\w* failed, and did not "
                                       "materialize this asset")).first).to_be_visible()
