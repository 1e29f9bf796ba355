"""docker-compose.yml agrees with the settings, the command line and the Prometheus config.

No Docker engine runs here, so the deployment is kept true by reading it: the services the
spec asks for, every WW_* name a setting, every secret required from the environment, each
welfare-watch command one the CLI has, and every process Prometheus scrapes on its port.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from stack.install import KAFKA_VERSION
from welfare_watch.cli import app
from welfare_watch.settings import REPO_ROOT, Environment, load_policy

COMPOSE = REPO_ROOT / "docker-compose.yml"
WW_SERVICES = {"worker": "worker", "connectors": "connectors", "web": "web", "webhooks": "webhooks"}
REQUIRED = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")  # ${NAME:?message}: no default, or no start


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (_services()[service].get("environment") or {}).items()}


def _prometheus() -> dict[str, Any]:
    mounted = _mounts("prometheus")
    config: dict[str, Any] = yaml.safe_load(mounted["/etc/prometheus/prometheus.yml"].read_text())
    return config


def _mounts(service: str) -> dict[str, Path]:
    """Container path -> repository path, for the service's bind mounts of repository files."""
    mounts = {}
    for volume in _services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = REPO_ROOT / source
    return mounts


def test_the_services_the_deployment_needs() -> None:
    services = _services()
    assert set(services) >= {"kafka", "redis", *WW_SERVICES, "prometheus", "grafana"}
    kafka = services["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"  # the version the stack runs
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_workers_scale_over_the_partitions() -> None:
    worker = _services()["worker"]
    partitions = load_policy().worker.partitions
    assert 1 < worker["deploy"]["replicas"] <= partitions
    assert str(partitions) == str(_services()["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"])
    assert "container_name" not in worker and "ports" not in worker  # replicas must not clash


@pytest.mark.parametrize("service", sorted(WW_SERVICES))
def test_every_ww_name_is_a_setting_and_every_command_the_cli_has(service: str) -> None:
    fields = {f"WW_{name.upper()}" for name in Environment.model_fields}
    env = _env(service)
    assert {k for k in env if k.startswith("WW_")} - fields == set()
    assert {"WW_KAFKA_BOOTSTRAP", "WW_REDIS_URL"} <= set(env)
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    command = _services()[service]["command"]
    assert command[0] == WW_SERVICES[service]
    assert command[0] in commands
    options = {param.opts[0] for param in commands[command[0]].params if param.opts}
    assert {arg for arg in command[1:] if arg.startswith("--")} <= options


def test_every_secret_comes_from_the_environment_without_a_default() -> None:
    secrets = {f"WW_{n.upper()}" for n, f in Environment.model_fields.items() if _secret(f)}
    assert {"WW_SECRET_KEY", "WW_REDIS_PASSWORD"} <= secrets
    seen = set()
    for name, service in _services().items():
        for key, value in (service.get("environment") or {}).items():
            if key in secrets or re.search("PASSWORD|SECRET|_AUTH$", key):
                assert REQUIRED.match(str(value)), f"{name}: {key} has a default or a literal"
                seen.add(key)
    assert {"WW_SECRET_KEY", "WW_REDIS_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"} <= seen
    assert "WW_SECRET_KEY" in _env("web")
    redis_command = _services()["redis"]["command"]
    assert REQUIRED.match(redis_command[redis_command.index("--requirepass") + 1])


def _secret(field: Any) -> bool:
    return "SecretStr" in str(field.annotation)


def _metrics_ports() -> dict[str, int]:
    """Each welfare-watch service's /metrics port: WW_METRICS_PORT, the web app's --port."""
    ports = {}
    for service in WW_SERVICES:
        if service == "web":
            command = _services()["web"]["command"]
            ports[service] = int(command[command.index("--port") + 1])
        else:
            ports[service] = int(_env(service)["WW_METRICS_PORT"])
    return ports


def test_prometheus_scrapes_every_process_on_its_port() -> None:
    scraped = {}
    for job in _prometheus()["scrape_configs"]:
        for sd in job["dns_sd_configs"]:  # by DNS: every replica of a scaled service
            for name in sd["names"]:
                scraped[name] = sd["port"]
    assert scraped == _metrics_ports()
    web = _services()["web"]
    assert f"{_metrics_ports()['web']}:{_metrics_ports()['web']}" in web["ports"]
    command = web["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_prometheus_loads_the_rules_the_repository_tests() -> None:
    mounts = _mounts("prometheus")
    rule_files = _prometheus()["rule_files"]
    assert rule_files == ["/etc/prometheus/rules.yml"]
    assert mounts["/etc/prometheus/rules.yml"] == REPO_ROOT / "deploy/prometheus/rules.yml"
    assert all(path.is_file() for path in mounts.values())


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus() -> None:
    mounts = _mounts("grafana")
    provisioning = mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in _services()
    dashboards = yaml.safe_load((provisioning / "dashboards/welfare-watch.yml").read_text())
    (provider,) = dashboards["providers"]
    folder = mounts[provider["options"]["path"]]
    board = json.loads((folder / "welfare-watch.json").read_text())
    uids = {p["datasource"]["uid"] for p in board["panels"] if "datasource" in p}
    assert uids == {source["uid"]}
    assert REQUIRED.match(_env("grafana")["GF_SECURITY_ADMIN_PASSWORD"])
