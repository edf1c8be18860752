"""`ocr_sharded_job`: folders read as shards, each shard a step, so the steps of one run spread
over a cluster's hosts (the Celery executor, when `OCR_ASSETS_CELERY_BROKER` is set) or run one
after the other in the run's process (the default).

```
plan_shards ──► ocr_shard[s0_1of3] ─┐
            ├─► ocr_shard[s1_2of3] ─┼─► record_folders
            └─► ocr_shard[...]     ─┘
```
Every step goes through the manifest's leases, so a shard whose host died is taken over: by the
broker, which hands the unfinished step to another worker, and by the shards still running,
which take its pages once their leases expire. The folders are recorded (materializations,
checks with the counts invariant) by the last step, once every page is done or failed.
"""

import os
from dataclasses import replace

import dagster as dg

from ocr_assets.engine.folder.shard import Shard, ShardReport
from ocr_assets.orchestration.automation import AutomationConfig
from ocr_assets.orchestration.cluster import ClusterConfig
from ocr_assets.orchestration.resources import OcrConfig
from ocr_assets.orchestration.sharding import read_shard, record_folders, shards_of

IO_MANAGER = "shard_io_manager"
"""The steps hand shards and reports to each other through a directory every host sees."""


def shard_io_manager(cluster: ClusterConfig) -> dg.FilesystemIOManager:
    """The steps' hand-over directory (`ClusterConfig.io_root`): on a cluster, one every host
    sees; S3 (`dagster-aws`'s `S3PickleIOManager`) plays the part in production."""
    return dg.FilesystemIOManager(base_dir=cluster.io_root)


class ShardingConfig(dg.Config):
    folders: list[str] = []
    """Partition keys of the folders to read; empty: every folder under the scans root."""


def sharded_job(cluster: ClusterConfig, step_retry: dg.RetryPolicy,
                recipe: str) -> dg.JobDefinition:
    """The job, with the cluster's executor and shard size and the steps' retry policy; the
    definitions bind its resources (`ocr`, `shard_io_manager`)."""

    @dg.op(out={"folders": dg.Out(list, io_manager_key=IO_MANAGER),
                "shards": dg.DynamicOut(Shard, io_manager_key=IO_MANAGER)},
           retry_policy=step_retry)
    def plan_shards(context: dg.OpExecutionContext, config: ShardingConfig, ocr: OcrConfig):
        """Bring the folders' manifest up to date and split their pages into shards."""
        folders, shards = shards_of(context, ocr, config.folders, cluster.pages_per_shard)
        yield dg.Output(folders, "folders")
        for mapping_key, shard in shards:
            yield dg.DynamicOutput(shard, mapping_key=mapping_key, output_name="shards")

    @dg.op(ins={"shard": dg.In(Shard)}, out=dg.Out(ShardReport, io_manager_key=IO_MANAGER),
           retry_policy=step_retry, tags={"kind": "tesseract"})
    def ocr_shard(context: dg.OpExecutionContext, ocr: OcrConfig, shard: Shard) -> ShardReport:
        """Read one shard's pages, then the free pages of its folders, under leases."""
        return read_shard(context, ocr, shard)

    @dg.op(retry_policy=step_retry)
    def record_sharded_folders(context: dg.OpExecutionContext, ocr: OcrConfig,
                               folders: list, reports: list) -> None:
        """Each folder's retry pass, reports, materializations and checks."""
        record_folders(context, ocr, folders, reports, recipe)

    @dg.job(name="ocr_sharded_job", executor_def=cluster.executor(),
            description="Folders read as shards, one step each: one big folder spread over a "
                        "cluster's hosts (Celery workers, OCR_ASSETS_CELERY_BROKER), many small "
                        "ones packed; then each folder's retry pass, reports and checks.")
    def ocr_sharded_job() -> None:
        folders, shards = plan_shards()
        record_sharded_folders(folders, shards.map(ocr_shard).collect())

    return ocr_sharded_job


@dg.definitions
def defs() -> dg.Definitions:
    """The job as this deployment's variables configure it."""
    ocr = OcrConfig.from_environ(os.environ)
    cluster = ClusterConfig.from_environ(os.environ)
    if not cluster.io_root:
        cluster = replace(cluster, io_root=os.path.join(ocr.data_root, "dagster_io"))
    automation = AutomationConfig.from_environ(os.environ)
    return dg.Definitions(jobs=[sharded_job(cluster, automation.step_retry_policy(),
                                            ocr.project().settings.recipe_key())],
                          resources={IO_MANAGER: shard_io_manager(cluster)})
