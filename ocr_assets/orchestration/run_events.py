"""A run's check results read back from the instance a page at a time.

A run over many folders records nine check results per folder; reading them all at once
(`instance.all_logs`) held every one of them, with its metadata, at the same time: about 40 KiB
a one-page folder, 8.6 MiB for a run of 200 folders, the orchestrating process's peak
(docs/benchmarks.md, "Many small folders"). A page of records at a time keeps what is held the
same whatever the run's size. The instance is read, not the in-process run's result: the result
leaves out the events of a step that failed (a blocking check failing fails the folder step),
the instance has them.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

RECORDS_PER_PAGE = 500


def check_evaluations(instance: dg.DagsterInstance, run_id: str,
                      per_page: int = RECORDS_PER_PAGE) -> Iterator[dg.AssetCheckEvaluation]:
    """Every check result the run recorded, in the order it recorded them."""
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            limit=per_page)
        for record in page.records:
            yield record.event_log_entry.dagster_event.event_specific_data
        if not page.has_more:
            return
        cursor = page.cursor
