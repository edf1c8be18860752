"""Sensors: new or changed scan folders become partitions and runs in one tick; a changed set of
finished folders rebuilds the corpus.

`scan_folder_sensor` asks the one answer to "which folders need a run" (`folders_to_run`) for
new, changed and recipe-changed folders: a folder whose files' signature (names, sizes,
modification times: one `stat` per file, no image read) is not the one its last run stored in
the manifest, or that was never materialized. A folder's run key is
`<partition>:<signature>:<recipe>`; the folders of a tick are requested together, consecutive
partitions sharing a run up to `folders_per_run` (`orchestration/batches.py`: one run's set-up
for many small folders), new folders apart from changed ones and each run with its queue
priority and time cap (`orchestration/requests.py`), under a run key made of their own. The
cursor keeps the last run key requested for each folder it saw, so a repeated tick requests
nothing again (and a tick evaluated twice requests the same keys, which Dagster launches once),
while a folder changed again, or read with new settings, gets a new run. The cursor also tells
which folders were there at the last tick: a folder that is gone is warned about once and
marked; when it is back, it is run again if it needs a run or its last run failed (under a run
key of its own, `...:back<n>`, since the failed run's key would be skipped); and a scans root
that is suddenly empty (an unmounted share) is not taken for a mass removal.
"""

import base64
import hashlib
import json
import os
import re
import time
import zlib

import dagster as dg

from ocr_assets.engine.folder.forget import forget_folder_data
from ocr_assets.engine.folder.ground_truth import ground_truth_signature
from ocr_assets.engine.folder.planning import SENSOR_NEEDS, Need, RunState, folders_to_run
from ocr_assets.engine.folder.registry import folder_signature
from ocr_assets.engine.naming import display_name
from ocr_assets.engine.project import Project
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.concurrency import ensure_corpus_pool, ensure_pool_limit
from ocr_assets.orchestration.partitions import scan_folders
from ocr_assets.orchestration.requests import folder_pages, folder_run_requests, plan_runs
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.run_state import (
    DATA_VERSION_TAG,
    FOLDER_ASSETS,
    PAGE_TEXTS,
    SCAN_FOLDERS,
    TAG_TRIGGER,
    register_scan_folders,
    run_state,
)
from ocr_assets.orchestration.slot_queue import assign_stranded_steps

SIGNATURE_CHARS = 16
"""64 bits of the folder fingerprint: enough to tell one state of a folder from the next."""


def encode_cursor(requested: dict[str, str]) -> str:
    """partition -> the last run key requested for it (empty: none yet), as compact JSON,
    zlib-compressed and base64-encoded (10,000 folders take a few hundred kB)."""
    raw = json.dumps(requested, sort_keys=True, separators=(",", ":")).encode()
    return "z2:" + base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


GONE = "gone:"
"""The cursor's mark of a folder that was gone from the scans root at the last tick."""
COMEBACK = re.compile(r":back(\d+)$")


def gone(last: str) -> str:
    """The cursor's entry of a folder gone since it was last requested as `last`."""
    return last if last.startswith(GONE) else GONE + last


def comebacks(entry: str) -> int:
    """How many times the folder of this cursor entry came back before (from its run key)."""
    found = COMEBACK.search(entry.removeprefix(GONE))
    return int(found.group(1)) if found else 0


def decode_cursor(cursor: str | None) -> dict[str, str]:
    """The cursor of the last tick. An earlier version's (`z1:` or plain JSON, partition ->
    fingerprint) gives its partitions with a run key that no request has, so each folder
    that needs a run is requested once more (Dagster launches a run key once)."""
    if not cursor:
        return {}
    raw = (zlib.decompress(base64.b64decode(cursor[3:])) if cursor.startswith(("z1:", "z2:"))
           else cursor.encode())
    decoded = json.loads(raw)
    return decoded if cursor.startswith("z2:") else dict.fromkeys(decoded, "")


def _forget_orphans(context: dg.SensorEvaluationContext, project: Project, on_disk: set[str],
                    partitions: set[str]) -> None:
    """A folder gone from disk whose partition was deleted (in the UI) is forgotten: both say
    it is gone for good. Either alone is not enough (an unmounted disk, a slip in the UI)."""
    for record in project.manifest.folders():
        key = record.partition_key
        if key in on_disk or key in partitions:
            continue
        forgotten = forget_folder_data(project, key)
        context.log.info(f"forgot folder {record.folder_name!r} (partition '{key}' deleted, "
                         f"folder gone): {forgotten.pages} manifest rows, {forgotten.files} "
                         "files")


def _unstick_slot_queue(context: dg.SensorEvaluationContext) -> None:
    """Give a free pool slot to a step Dagster's queue left waiting beside it (see
    `orchestration/slot_queue.py`): the daemon's runs have no watcher of their own."""
    for pool, run_id, step_key in assign_stranded_steps(context.instance.event_log_storage):
        context.log.warning(f"step {step_key} of run {run_id} waited for a free slot of pool "
                            f"'{pool}' that Dagster's queue never gave it: assigned it now")


def evaluate_scan_folders(context: dg.SensorEvaluationContext, ocr: OcrConfig,
                          automation: AutomationConfig) -> dg.SensorResult | dg.SkipReason:
    """One tick of the folder sensor: its folders that need a run, new ones first
    (`orchestration/requests.py`), `automation.folders_per_run` to a run."""
    project = ocr.project()
    ensure_pool_limit(context.instance, project.config.ocr_runs)
    _unstick_slot_queue(context)
    if not project.scans_root.is_dir():
        return dg.SkipReason(f"the scans root {project.scans_root} does not exist; create it "
                             "or set OCR_ASSETS_SCANS")
    requested = decode_cursor(context.cursor)
    registration = register_scan_folders(context.instance, project)
    scan = registration.scan
    present_before = [key for key, entry in requested.items() if not entry.startswith(GONE)]
    if not scan.folders and present_before:
        return dg.SkipReason(f"the scans root {project.scans_root} is empty, but "
                             f"{len(present_before)} "
                             "folders were there at the last tick: is its storage mounted? "
                             "Nothing is requested or forgotten until they are back (remove "
                             "folders for good with `ocr-assets forget`)")
    for name, reason in scan.problems.items():
        context.log.warning(f"scan folder {name!r} skipped: {reason}")
    partitions = set(context.instance.get_dynamic_partitions(scan_folders.name))
    now = {key: requested.get(key, "") for key in scan.folders}
    for key in sorted(requested.keys() - scan.folders.keys()):
        if key not in partitions:
            continue  # deleted: forgotten below, and no longer watched
        if not requested[key].startswith(GONE):
            context.log.warning(f"the folder of partition '{key}' is gone from the scans root; "
                                f"`ocr-assets forget {key}` deletes its partition, outputs and "
                                "manifest rows")
        now[key] = gone(requested[key])
    _forget_orphans(context, project, set(scan.folders),
                    partitions | set(registration.new_partitions))

    materialized = frozenset(context.instance.get_materialized_partitions(PAGE_TEXTS))
    needs = folders_to_run(project, scan.folders, RunState(materialized), SENSOR_NEEDS)
    back = sorted(key for key in scan.folders if requested.get(key, "").startswith(GONE))
    if back:
        # A folder back in place is run again when it needs a run or its last run failed
        # (most often because it was gone), under a run key of its own: the key of the run
        # that failed would be skipped.
        needs.update(folders_to_run(project, {key: scan.folders[key] for key in back},
                                    run_state(context.instance, back),
                                    SENSOR_NEEDS | {Need.RUN_FAILED}))
    recipe = project.settings.recipe_key()
    folder_keys, requested_needs, observations = {}, {}, []
    for key, need in needs.items():
        signature = folder_signature(project.scans_root / scan.folders[key])
        run_key = f"{key}:{signature[:SIGNATURE_CHARS]}:{recipe}"
        if need.need is Need.GROUND_TRUTH:  # under OCR_ASSETS_GROUND_TRUTH: files unchanged
            truth = ground_truth_signature(project.scans_root / scan.folders[key],
                                           display_name(scan.folders[key]),
                                           project.ground_truth_root) or "none"
            run_key += f":gt{truth[:SIGNATURE_CHARS]}"
        if key in back:
            run_key += f":back{comebacks(requested[key]) + 1}"
            context.log.info(f"the folder of partition '{key}' is back in the scans root and "
                             f"needs a run ({need.why}): requesting one")
        if run_key in (last := requested.get(key, ""), COMEBACK.sub("", last)):
            continue  # requested at an earlier tick (or since it came back): that run does it
        now[key] = folder_keys[key] = run_key
        requested_needs[key] = need
        # The folder's new state, seen now: its text shows as unsynced until the run is done.
        observations.append(dg.AssetObservation(asset_key=SCAN_FOLDERS, partition=key,
                                                tags={DATA_VERSION_TAG: signature}))
    new = registration.new_partitions
    # The new partitions are added before the requests, after the known ones.
    order = context.instance.get_dynamic_partitions(scan_folders.name) + new
    pages = folder_pages(project, {key: scan.folders[key] for key in requested_needs})
    run_requests = folder_run_requests(
        plan_runs(order, requested_needs, pages, automation.folders_per_run),
        lambda batch: batch.run_key(folder_keys), {TAG_TRIGGER: "sensor"}, automation)
    return dg.SensorResult(
        run_requests=run_requests,
        asset_events=observations,
        dynamic_partitions_requests=[scan_folders.build_add_request(new)] if new else [],
        cursor=encode_cursor(now),
    )


def _latest_folder_event(instance: dg.DagsterInstance) -> int:
    """Storage id of the newest materialization of either folder asset (0 when none)."""
    newest = 0
    for asset in FOLDER_ASSETS:
        records = instance.fetch_materializations(asset, limit=1).records
        if records:
            newest = max(newest, records[0].storage_id)
    return newest


def _runs_in_progress(instance: dg.DagsterInstance, job_name: str) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(
        job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                     dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]),
        limit=1))


def evaluate_corpus(context: dg.SensorEvaluationContext,
                    max_age_s: float) -> dg.SensorResult | dg.SkipReason:
    """One tick of the corpus sensor: a run when folders were materialized or partitions
    deleted since the last build, once no folder run is going on or `max_age_s` after the
    last request."""
    instance = context.instance
    ensure_corpus_pool(instance)
    _unstick_slot_queue(context)
    latest = _latest_folder_event(instance)
    if not latest and not context.cursor:
        return dg.SkipReason("no folder has been OCRed yet: the corpus is built once one is")
    partitions = sorted(instance.get_dynamic_partitions(scan_folders.name))
    digest = hashlib.sha1("\n".join(partitions).encode(), usedforsecurity=False).hexdigest()[:12]
    state = f"{latest}:{digest}"
    previous = json.loads(context.cursor) if context.cursor else {}
    if previous.get("state") == state:
        return dg.SkipReason("the corpus is up to date with every folder materialization")
    if _runs_in_progress(instance, "corpus_job"):
        return dg.SkipReason("a corpus run is queued or in progress")
    if (_runs_in_progress(instance, "ocr_folder_job")
            and time.time() - previous.get("requested_at", 0) < max_age_s):
        return dg.SkipReason("folder runs are in progress; the corpus is rebuilt when they are "
                             f"done, or {max_age_s:g} s after its last build")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"corpus:{state}", tags={TAG_TRIGGER: "sensor"})],
        cursor=json.dumps({"state": state, "requested_at": time.time()}))


def sensors(automation: AutomationConfig) -> list[dg.SensorDefinition]:
    """The folder sensor and the corpus sensor, at the intervals of `automation`."""

    @dg.sensor(job_name="ocr_folder_job", minimum_interval_seconds=automation.sensor_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING if automation.folder_sensor
               else dg.DefaultSensorStatus.STOPPED,
               description="Registers every new folder under the scans root as a partition and "
                           "requests runs for the new, changed or recipe-changed folders, in one "
                           "tick: consecutive partitions share a run, up to "
                           "OCR_ASSETS_FOLDERS_PER_RUN folders (a folder's run key: partition + "
                           "fingerprint of its files + recipe).")
    def scan_folder_sensor(context: dg.SensorEvaluationContext, ocr: OcrConfig):
        return evaluate_scan_folders(context, ocr, automation)

    @dg.sensor(job_name="corpus_job", minimum_interval_seconds=automation.corpus_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Rebuilds the corpus when folders were materialized or partitions "
                           "deleted since its last build: once the folder runs are done, or "
                           "every OCR_ASSETS_CORPUS_MAX_AGE_S seconds while they go on.")
    def corpus_sensor(context: dg.SensorEvaluationContext):
        return evaluate_corpus(context, automation.corpus_max_age_s)

    return [scan_folder_sensor, corpus_sensor]


@dg.definitions
def defs() -> dg.Definitions:
    """The sensors at the deployment's intervals."""
    return dg.Definitions(sensors=sensors(AutomationConfig.from_environ(os.environ)))
