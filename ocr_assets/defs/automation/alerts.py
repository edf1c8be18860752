"""The alert sensor: every finished run's alerts (`orchestration.alerts`), and the corpus's
freshness, sent once each to the configured channels.

It reads the instance's run-ended events (successes and failures, in two streams) after its
cursor, so it sees daemon runs and command-line runs alike; a sensor evaluated twice, or a run
the command line already alerted on, sends nothing again, since the manifest's alert ledger
claims each event before it is sent. Its first tick looks back one day (`LOOKBACK_S`) instead of
over the whole history. Without a configured channel it skips, saying how to configure one.
"""

import json
import os
import time

import dagster as dg

from ocr_assets.engine.alerts.config import AlertConfig
from ocr_assets.orchestration.alerts import freshness_alerts, run_alerts, send_alerts
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.resources import OcrConfig

LOOKBACK_S = 24 * 3600
"""How far back the first tick looks for finished runs."""
RUNS_PER_TICK = 50
"""At most this many finished runs of each stream a tick; the next tick goes on from there."""
STREAMS = {"success": dg.DagsterEventType.RUN_SUCCESS,
           "failure": dg.DagsterEventType.RUN_FAILURE}


def finished_runs(instance: dg.DagsterInstance, after: dict[str, int],
                  now: float) -> tuple[list[str], dict[str, int]]:
    """The ids of the runs that ended after the cursor `after` (stream -> last storage id
    seen; a stream not in it looks back `LOOKBACK_S`), and the cursor after them."""
    run_ids: list[str] = []
    cursor = dict(after)
    for stream, event_type in STREAMS.items():
        records_filter = (
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after[stream])
            if stream in after else
            dg.RunStatusChangeRecordsFilter(event_type, after_timestamp=now - LOOKBACK_S))
        records = instance.fetch_run_status_changes(records_filter, limit=RUNS_PER_TICK,
                                                    ascending=True).records
        run_ids += [record.run_id for record in records]
        if records:
            cursor[stream] = records[-1].storage_id
    return run_ids, cursor


def evaluate_alerts(context: dg.SensorEvaluationContext, ocr: OcrConfig, config: AlertConfig,
                    freshness_window_s: float, now: float | None = None
                    ) -> dg.SensorResult | dg.SkipReason:
    """One tick: the alerts of the runs finished since the last tick and of the corpus's
    freshness at `now` (the clock when None), delivered once each."""
    if not config.configured:
        return dg.SkipReason("no alert channel is configured: set OCR_ASSETS_ALERT_WEBHOOK, "
                             "OCR_ASSETS_ALERT_SLACK_TOKEN and _CHANNEL, or "
                             "OCR_ASSETS_ALERT_TEAMS_WEBHOOK (docs/alerts.md)")
    now = time.time() if now is None else now
    project = ocr.project()
    instance = context.instance
    run_ids, cursor = finished_runs(instance, json.loads(context.cursor or "{}"), now)
    alerts = [alert for run_id in run_ids
              for alert in run_alerts(instance, project, run_id, config)]
    alerts += freshness_alerts(instance, config, freshness_window_s, now)
    delivery, problems = send_alerts(project, alerts, config)
    for line in problems:
        context.log.warning(line)
    for key, why in delivery.failures.items():
        context.log.warning(f"alert {key} not delivered everywhere: {why}")
    context.log.info(f"{len(run_ids)} finished runs read; {delivery.summary()}")
    return dg.SensorResult(cursor=json.dumps(cursor, sort_keys=True))


def alert_sensor(automation: AutomationConfig, config: AlertConfig) -> dg.SensorDefinition:
    """The alert sensor at the interval of `automation`, sending to the channels of `config`."""

    @dg.sensor(minimum_interval_seconds=automation.alert_interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Sends one alert per event to the webhook (OCR_ASSETS_ALERT_WEBHOOK), "
                           "Slack or Teams: a failed run, a failed blocking check, a folder over "
                           "OCR_ASSETS_ALERT_FAILED_SHARE failed pages, a corpus overdue "
                           "(a folder OCRed after its last build has waited more than "
                           "OCR_ASSETS_CORPUS_FRESHNESS_H hours). Each event is sent once, "
                           "whoever sees it.",
               name="alert_sensor")
    def evaluate(context: dg.SensorEvaluationContext, ocr: OcrConfig):
        return evaluate_alerts(context, ocr, config, automation.corpus_freshness_h * 3600)

    return evaluate


@dg.definitions
def defs() -> dg.Definitions:
    """The alert sensor with the deployment's channels and interval."""
    return dg.Definitions(sensors=[alert_sensor(AutomationConfig.from_environ(os.environ),
                                                AlertConfig.from_environ(os.environ))])
