"""How the sharded job runs: on a cluster's Celery workers when a broker is configured, in the
run's own process otherwise (the embedded default: no broker, nothing to install).

Why Celery (dagster-celery) rather than a code server and run launcher per host: a run launcher
puts whole runs on hosts, so one big folder would still be read by one host; the Celery
executor puts each step of one run on whichever worker is free, so the shards of one folder
spread over every host, and a host that dies takes only its steps with it (`acks_late`: the
broker hands an unfinished step to another worker). `deploy/README.md` maps each piece to its
production counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from ocr_assets.engine.config import read_environ, setting

CELERY_SETTINGS: dict[str, Any] = {
    # A step is acknowledged when it ends, not when a worker takes it, and a worker that dies
    # (kill -9, a host gone) gives it back: the broker redelivers it to another host.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # One step at a time per worker process: a shard keeps its host's cores busy with its own
    # pool, and a prefetched step would wait behind it instead of going to an idle host.
    "worker_prefetch_multiplier": 1,
}
"""The Celery settings the sharded job's steps need, whatever the deployment adds."""


@dataclass(frozen=True)
class ClusterConfig:
    celery_broker: str = setting("", "CELERY_BROKER", "The Celery broker of a cluster "
                                 "(`pyamqp://user:$PASSWORD@host:5672//`, the password from a "
                                 "secret): the sharded job's steps go to the Celery workers of "
                                 "its hosts; empty: they run in the run's own process.")
    pages_per_shard: int = setting(200, "PAGES_PER_SHARD", "Pages of one step of the sharded "
                                   "job: a bigger folder is split into shards of this size, "
                                   "smaller folders are packed together up to it.")
    io_root: str = setting("", "SHARED_IO", "Where the sharded job's steps hand their results "
                           "to each other: a directory every host sees (NFS); empty: "
                           "`<data_root>/dagster_io`.")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ClusterConfig:
        return read_environ(cls, environ)

    def executor(self) -> dg.ExecutorDefinition:
        """The Celery executor on the broker when one is set, else the in-process one."""
        if not self.celery_broker:
            return dg.in_process_executor
        try:
            from dagster_celery import celery_executor
        except ImportError as exc:
            raise RuntimeError(
                "OCR_ASSETS_CELERY_BROKER is set but dagster-celery is not installed: install "
                "the cluster extra (`pip install 'ocr-assets[cluster]'`), or unset the "
                "variable to run the sharded job in process") from exc
        return celery_executor.configured({
            "broker": self.celery_broker, "backend": "rpc://",
            "config_source": CELERY_SETTINGS})
