"""The ready-to-edit deployment files in deploy/: they load, they agree with each other, and they
hold no credential.

What runs here: both instance files are loaded by Dagster against the test PostgreSQL server
(the Docker one with its DockerRunLauncher, from dagster-docker). What cannot run here (no
Docker daemon, no Kubernetes cluster, no image registry): `docker compose up` and the Helm
chart; for those, the numbers that must agree across files are checked instead.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import yaml
from dagster._config import resolve_to_config_type, validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

from ocr_assets.orchestration.concurrency import ensure_pool_limit, pool_limit
from ocr_assets_tests.project_defs import CORPUS_TAG

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PG_VARIABLES = {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"}
INSTANCE_FILES = ["../dagster.yaml", "dagster.yaml", "docker/dagster.yaml"]
"""Every instance file a deployment uses, relative to deploy/: the local one and production's."""
CORPUS_LIMIT = {"key": "ocr_assets/job", "value": CORPUS_TAG["ocr_assets/job"], "limit": 1}
CHART_CONCURRENCY_KEYS = {
    (): {"enabled", "pools", "runs"},
    ("pools",): {"defaultLimit", "granularity", "opGranularityRunBuffer"},
    ("runs",): {"maxConcurrentRuns", "tagConcurrencyLimits"},
}
"""The keys the chart's schema allows in `concurrency` (dagster-io/dagster, helm/dagster/schema/
schema/charts/dagster/subschema/concurrency.py: pydantic models with extra="forbid"): helm
refuses a values file with any other."""
CHART_TAG_LIMIT_KEYS = {"key", "value", "limit"}


def load(relative: str) -> object:
    return yaml.safe_load((DEPLOY / relative).read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "docker" / "env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def validated(config: dict, tmp_path: Path) -> dict:
    """`config` as Dagster validates an instance file: the instance schema, then the config of
    each pluggable class it names (run coordinator, run launcher) against that class's own
    schema. No database is reached and no `{env: ...}` is read."""
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    checked, _ = dagster_instance_config(str(tmp_path))  # raises DagsterInvalidConfigError
    for section in ("run_coordinator", "run_launcher"):
        if section in checked:
            data = ConfigurableClassData(checked[section]["module"], checked[section]["class"],
                                         yaml.safe_dump(checked[section].get("config") or {}))
            klass = class_from_code_pointer(data.module_name, data.class_name)
            result = validate_config(resolve_to_config_type(klass.config_type()),
                                     data.config_dict)
            assert result.success, f"{section} of {data.class_name}: {result.errors}"
    return dict(checked)


@pytest.mark.parametrize("relative", INSTANCE_FILES)
def test_dagster_validates_every_instance_file_one_corpus_run_at_a_time_with_monitoring(
        relative: str, tmp_path: Path) -> None:
    """Each file passes Dagster's own validation, lets one corpus build run at a time (two
    would race to write the same files) and monitors runs, which is what ends a folder run
    past its `dagster/max_runtime`."""
    config = validated(load(relative), tmp_path)
    runs = config["concurrency"]["runs"]
    assert CORPUS_LIMIT in runs["tag_concurrency_limits"]
    assert config["run_monitoring"]["enabled"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator", \
        "runs wait in the queue, dequeued by dagster/priority"


def test_a_misspelt_instance_file_is_refused(tmp_path: Path) -> None:
    """The validation above can fail: a key Dagster does not know, a limit that is no number."""
    config = load("dagster.yaml")
    config["concurrency"]["runs"]["tag_concurency_limits"] = [CORPUS_LIMIT]
    with pytest.raises(dg.DagsterInvalidConfigError):
        validated(config, tmp_path)
    config = load("docker/dagster.yaml")
    config["run_launcher"]["config"]["nano_cpu"] = 4
    with pytest.raises(AssertionError, match="DockerRunLauncher"):
        validated(config, tmp_path)


@pytest.mark.parametrize("relative", ["dagster.yaml", "docker/dagster.yaml"])
def test_storage_credentials_come_only_from_the_environment(relative: str) -> None:
    db = load(relative)["storage"]["postgres"]["postgres_db"]
    assert {field: value for field, value in db.items() if field != "scheme"} == {
        "hostname": {"env": "PGHOST"}, "port": {"env": "PGPORT"},
        "username": {"env": "PGUSER"}, "password": {"env": "PGPASSWORD"},
        "db_name": {"env": "PGDATABASE"}}
    assert db["scheme"] == "postgresql+psycopg2"


def test_the_docker_instance_is_the_production_one_plus_its_run_launcher() -> None:
    production, docker = load("dagster.yaml"), load("docker/dagster.yaml")
    launcher = docker.pop("run_launcher")
    assert docker == production
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")


@pytest.fixture
def pg_environment(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = urlsplit(postgres_database)
    for name, value in {"PGHOST": url.hostname or "127.0.0.1", "PGPORT": str(url.port or 5432),
                        "PGUSER": url.username or "postgres", "PGPASSWORD": url.password or "",
                        "PGDATABASE": url.path.lstrip("/")}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("relative", ["dagster.yaml", "docker/dagster.yaml"])
def test_dagster_loads_each_instance_file_against_postgresql(
        relative: str, pg_environment: None, tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_bytes((DEPLOY / relative).read_bytes())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled
        assert instance.run_monitoring_enabled
        launcher = instance.run_launcher
        if relative.startswith("docker/"):
            assert type(launcher).__name__ == "DockerRunLauncher"
            assert launcher.networks == ["ocr-assets"]


def test_docker_runs_get_every_variable_and_the_cores_they_ocr_with() -> None:
    config = load("docker/dagster.yaml")["run_launcher"]["config"]
    example = env_example()
    forwarded = set(config["env_vars"])
    assert forwarded >= PG_VARIABLES
    assert {k for k in example if k.startswith("OCR_ASSETS_")} - {"OCR_ASSETS_IMAGE"} <= forwarded
    assert config["container_kwargs"]["nano_cpus"] == int(example["OCR_ASSETS_WORKERS"]) * 10**9


def test_the_compose_file_shares_volume_network_and_instance_with_the_run_launcher() -> None:
    compose = load("docker/docker-compose.yml")
    launcher = load("docker/dagster.yaml")["run_launcher"]["config"]
    data_volume = launcher["container_kwargs"]["volumes"][0].split(":")[0]
    assert compose["volumes"][data_volume]["name"] == data_volume
    assert compose["networks"][launcher["network"]]["name"] == launcher["network"]
    for name in ("code", "webserver", "daemon"):
        service = compose["services"][name]
        mounts = {m.split(":")[1] for m in service["volumes"]}
        assert "/opt/dagster/dagster_home/dagster.yaml" in mounts, name
        assert any(m.startswith(f"{data_volume}:") for m in service["volumes"]), name
    assert "/var/run/docker.sock" in {m.split(":")[1] for m in compose["services"]["daemon"][
        "volumes"]}
    assert all(port.startswith("127.0.0.1:")
               for port in compose["services"]["webserver"]["ports"])
    assert "DAGSTER_CURRENT_IMAGE" in compose["services"]["code"]["environment"]


def test_kubernetes_runs_request_exactly_the_cores_they_ocr_with() -> None:
    values = load("k8s/values.yaml")
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    workers = dict(v.split("=", 1) for v in launcher["envVars"])["OCR_ASSETS_WORKERS"]
    assert launcher["resources"]["requests"]["cpu"] == launcher["resources"]["limits"]["cpu"] \
        == workers
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    secret_names = {s["name"] for s in launcher["envSecrets"]}
    secrets = {doc["metadata"]["name"]: doc
               for doc in yaml.safe_load_all((DEPLOY / "k8s" / "secrets.example.yaml").read_text())}
    assert secret_names <= secrets.keys()
    assert values["global"]["postgresqlSecretName"] in secrets
    assert PG_VARIABLES | {"OCR_ASSETS_MANIFEST_URL"} <= secrets["ocr-assets-env"][
        "stringData"].keys()


def chart_instance_config(values: dict) -> dict:
    """The instance settings Dagster's Helm chart renders from `values`, for the keys set there.

    A transcription of the chart's templates of dagster 1.13 (helm/dagster/templates/
    configmap-instance.yaml, helpers/instance/_concurrency.tpl and _run-coordinator.tpl; run
    monitoring's start timeout only when the values set one), not
    the chart itself: helm does not run here. What it catches is a values file whose rendered
    instance Dagster refuses or that loses the cluster's pool limit."""
    daemon = values["dagsterDaemon"]
    queued = (daemon["runCoordinator"].get("config") or {}).get("queuedRunCoordinator") or {}
    coordinator: dict = {"module": "dagster.core.run_coordinator",
                         "class": daemon["runCoordinator"]["type"]}
    if queued.get("maxConcurrentRuns") is not None:  # rendered whenever set
        coordinator["config"] = {"max_concurrent_runs": queued["maxConcurrentRuns"]}
    rendered: dict = {"run_coordinator": coordinator}
    concurrency = values.get("concurrency") or {}
    if concurrency.get("enabled"):
        pools, runs = concurrency.get("pools") or {}, concurrency.get("runs") or {}
        rendered["concurrency"] = {
            **({"pools": {"default_limit": pools["defaultLimit"]}}
               if pools.get("defaultLimit") is not None else {}),
            **({"runs": {
                **({"max_concurrent_runs": runs["maxConcurrentRuns"]}
                   if runs.get("maxConcurrentRuns") is not None else {}),
                **({"tag_concurrency_limits": runs["tagConcurrencyLimits"]}
                   if runs.get("tagConcurrencyLimits") else {})}}
               if runs.get("maxConcurrentRuns") is not None or runs.get("tagConcurrencyLimits")
               else {})}
    retries = daemon["runRetries"]
    if retries["enabled"]:
        rendered["run_retries"] = {"enabled": True, "max_retries": retries["maxRetries"]}
        if "retryOnAssetOrOpFailure" in retries:
            rendered["run_retries"]["retry_on_asset_or_op_failure"] = \
                retries["retryOnAssetOrOpFailure"]
    monitoring = daemon["runMonitoring"]
    if monitoring["enabled"]:
        rendered["run_monitoring"] = {"enabled": True,
                                      "poll_interval_seconds": monitoring["pollIntervalSeconds"]}
        if "startTimeoutSeconds" in monitoring:
            rendered["run_monitoring"]["start_timeout_seconds"] = \
                monitoring["startTimeoutSeconds"]
    extra = values.get("additionalInstanceConfig") or {}
    assert not extra.keys() & rendered.keys(), \
        f"additionalInstanceConfig repeats {sorted(extra.keys() & rendered.keys())}"
    return {**rendered, **extra}


def test_the_instance_the_chart_renders_is_accepted_and_keeps_the_cluster_pool_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster-wide `tesseract` limit of the values survives the sensor (which runs in a
    code server with few cores), and Dagster accepts the queue and pool settings together."""
    values = load("k8s/values.yaml")
    runs = values["concurrency"]["runs"]["maxConcurrentRuns"]
    limit = values["concurrency"]["pools"]["defaultLimit"]
    assert 1 <= limit <= runs, "a pool larger than the runs in progress could never fill"
    monkeypatch.delenv("OCR_ASSETS_OCR_RUNS", raising=False)
    with dg.instance_for_test(overrides=chart_instance_config(values)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == runs
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == values["dagsterDaemon"]["runRetries"][
            "maxRetries"]
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert ensure_pool_limit(instance, cores=1) == limit
        assert pool_limit(instance) == limit


def test_no_deployment_file_holds_a_password() -> None:
    """Passwords appear only as placeholders (`<...>`, `change-me`) or environment lookups."""
    example = env_example()
    assert example["PGPASSWORD"] == "change-me"
    secrets = list(yaml.safe_load_all((DEPLOY / "k8s" / "secrets.example.yaml").read_text()))
    for doc in secrets:
        for key, value in doc["stringData"].items():
            if "password" in key.lower():
                assert value.startswith("<") and value.endswith(">"), key
    assert "postgresqlPassword" not in load("k8s/values.yaml")["postgresql"]


def test_the_chart_values_render_an_instance_dagster_validates_with_one_corpus_run(
        tmp_path: Path) -> None:
    """The instance settings the chart renders from deploy/k8s/values.yaml pass Dagster's own
    validation and keep one corpus build at a time; the `concurrency` block holds only keys
    the chart's schema allows. (The K8sRunLauncher's config is not validated: dagster-k8s is
    not installed here.)"""
    values = load("k8s/values.yaml")
    concurrency = values["concurrency"]
    for path, allowed in CHART_CONCURRENCY_KEYS.items():
        block = concurrency
        for key in path:
            block = block[key]
        assert set(block) <= allowed, f"concurrency.{'.'.join(path)}: {set(block) - allowed}"
    for limit in concurrency["runs"]["tagConcurrencyLimits"]:
        assert set(limit) <= CHART_TAG_LIMIT_KEYS

    config = validated(chart_instance_config(values), tmp_path)
    assert CORPUS_LIMIT in config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert config["run_monitoring"]["enabled"]
