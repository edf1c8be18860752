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

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PG_VARIABLES = {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"}


def load(relative: str) -> object:
    return yaml.safe_load((DEPLOY / relative).read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "docker" / "env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


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
    assert values["additionalInstanceConfig"]["concurrency"]["pools"]["default_limit"] >= 1
    secret_names = {s["name"] for s in launcher["envSecrets"]}
    secrets = {doc["metadata"]["name"]: doc
               for doc in yaml.safe_load_all((DEPLOY / "k8s" / "secrets.example.yaml").read_text())}
    assert secret_names <= secrets.keys()
    assert values["global"]["postgresqlSecretName"] in secrets
    assert PG_VARIABLES | {"OCR_ASSETS_MANIFEST_URL"} <= secrets["ocr-assets-env"][
        "stringData"].keys()


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
