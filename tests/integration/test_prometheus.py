"""A real Prometheus scrapes `welfare-watch run` fed with the sample city.

Debian's prometheus runs on loopback with a generated configuration that scrapes the one
/metrics `run` serves (every process's metrics, merged by prometheus_client's multiprocess
mode, and the store's numbers) and evaluates the project's alerting rules. PromQL through its
HTTP API then gives what an operator would read: records per feed, alerts, detection latency,
open alerts; and every expression of the dashboard and the rules evaluates without error.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from alerts.expected import read_expected
from tests.integration.conftest import WW, Cli, stored_alerts
from tests.integration.test_samples import FACT_FEEDS, SAMPLES, ingest
from tests.monitoring import (
    RULES,
    SPEC_METRICS,
    dashboard_exprs,
    for_prometheus,
    metric_names,
    rule_exprs,
)
from tests.ports import free_port
from welfare_watch import names

T = TypeVar("T")
WAIT = 90.0  # seconds a condition may take to show (a bound, never asserted on)


def _eventually(probe: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    deadline = time.monotonic() + WAIT
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {WAIT:g}s")
        time.sleep(0.5)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Prometheus:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path: str, **params: str) -> Any:
        status, body = _get(f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        reply = json.loads(body or b"{}")
        assert reply.get("status") == "success", (path, params, status, reply)
        return reply["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def by(self, expr: str, label: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture()
def run_port(ww: Cli, tmp_path: Path) -> Iterator[int]:
    """`welfare-watch run` (worker, connectors, web, webhooks) on a free port."""
    port = free_port()
    env = {k: v for k, v in ww.env.items() if k != "WW_METRICS_PORT"}
    with (tmp_path / "run.log").open("ab") as log:
        process = subprocess.Popen(
            [WW, "run", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _eventually(
            lambda: _get(f"http://127.0.0.1:{port}/healthz")[0], lambda s: s == 200, "web app"
        )
        yield port
    finally:
        _stop(process)


@pytest.fixture()
def prometheus(run_port: int, tmp_path: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make setup` installs Debian's prometheus package"
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "welfare-watch",
                        "static_configs": [{"targets": [f"127.0.0.1:{run_port}"]}],
                    }
                ],
            }
        )
    )
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.console.templates=/nonexistent",
        "--web.console.libraries=/nonexistent",
    ]
    with (tmp_path / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _eventually(
            lambda: _get(f"http://127.0.0.1:{port}/-/ready")[0], lambda s: s == 200, "prometheus"
        )
        yield Prometheus(port)
    finally:
        _stop(process)


def _rows(feed: str) -> int:
    with (SAMPLES / f"{feed}.csv").open(encoding="utf-8-sig") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _feed_city(ww: Cli, tmp_path: Path) -> None:
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    ingest(ww, FACT_FEEDS)
    ww("wait", "--timeout", "120")
    ingest(ww, ["payments"])
    ww("wait", "--timeout", "120")
    ww("scan")
    ww("wait", "--timeout", "120")
    header = (SAMPLES / "prison.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    bad = tmp_path / "prison-bad.csv"
    bad.write_text(f"{header}\n不是身份证号,某人,入监,2026-01-10,某监狱,2028-01-09,SJ-BAD-1\n")
    assert "rejected 1" in ww("ingest", "prison", str(bad))
    ww("wait", "--timeout", "120")


def _resolve_as_false_match(ww: Cli, port: int) -> str:
    """A caseworker resolves the prison alert as a false match, through the HTTP API."""
    (alert,) = [a for a in stored_alerts(ww.env) if a.type == "INCARCERATED_BENEFICIARY"]
    token = ww(
        "token", "issue", "--role", "caseworker", "--scope", alert.queue, "--subject", "S-0042"
    ).strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/alerts/{alert.alert_id}/resolve",
        data=json.dumps({"resolution": "false_match", "note": "核对后为同名误报"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 200
    return alert.alert_id


def test_prometheus_reads_what_the_sample_city_did(
    ww: Cli, run_port: int, prometheus: Prometheus, tmp_path: Path
) -> None:
    _feed_city(ww, tmp_path)
    resolved = _resolve_as_false_match(ww, run_port)
    prom = prometheus

    # records per feed, from every way in: accepted as the worker consumed them, the bad row
    # as it reached dept.rejected
    received = {feed: _rows(feed) for feed in [*FACT_FEEDS, "payments"]}
    received["prison"] += 1
    query = "sum by (feed) (welfare_watch_records_received_total)"
    _eventually(lambda: prom.by(query, "feed"), lambda got: got == received, query)
    rejected = prom.by("sum by (feed) (welfare_watch_records_rejected_total)", "feed")
    assert rejected == {"prison": 1}

    # alerts per type, and a detection latency observed for each
    expected = read_expected(SAMPLES / "expected_alerts.jsonl")
    per_type = Counter(e["type"] for e in expected)
    assert prom.by("sum by (type) (welfare_watch_alerts_total)", "type") == per_type
    count = prom.scalar("sum(welfare_watch_detection_latency_seconds_count)")
    assert count == len(expected)
    p99 = prom.scalar(
        "histogram_quantile(0.99, sum by (le) (welfare_watch_detection_latency_seconds_bucket))"
    )
    assert p99 is not None and 0 <= p99 < float("inf")

    # open alerts per severity and district, from the store: the false match no longer open
    still_open = [a for a in stored_alerts(ww.env) if a.is_open]
    assert resolved not in {a.alert_id for a in still_open}
    assert len(still_open) == len(expected) - 1

    def nonzero(expr: str, label: str) -> dict[str, float]:
        return {k: v for k, v in prom.by(expr, label).items() if v}

    query = "sum by (severity) (welfare_watch_open_alerts)"
    want = Counter(a.severity for a in still_open)
    _eventually(lambda: nonzero(query, "severity"), lambda got: got == want, query)
    by_district = nonzero("sum by (district) (welfare_watch_open_alerts)", "district")
    assert by_district == Counter(a.district_code for a in still_open)
    oldest = prom.by("welfare_watch_oldest_open_alert_age_seconds", "severity")
    assert set(oldest) == {"critical", "high", "medium", "low"}
    assert oldest["critical"] > 0 and oldest["low"] == 0
    assert prom.by("welfare_watch_false_matches_total", "feed") == {"prison": 1}

    # each feed's last delivery, as the store has it; lag per topic and group, caught up
    store = redis.Redis.from_url(ww.env["WW_REDIS_URL"])
    delivered = store.zscore(names.FEED_DELIVERED, "payments")
    assert prom.scalar('welfare_watch_feed_last_record_timestamp_seconds{feed="payments"}') == (
        pytest.approx(delivered)
    )
    assert prom.by("welfare_watch_feed_overdue", "feed")["payments"] == 0
    query = 'welfare_watch_consumer_lag{group="welfare-watch"}'
    lag = _eventually(  # each of the worker's inputs, down to 0 once its commits catch up
        lambda: prom.by(query, "topic"),
        lambda got: set(got) >= set(names.WORKER_INPUTS) and set(got.values()) == {0},
        query,
    )
    assert set(lag) == set(names.WORKER_INPUTS)

    # every name the spec gives, with its labels, as Prometheus stored it; no person in any
    exported = set(prom.api("label/__name__/values"))
    assert set(SPEC_METRICS) - exported == set()
    for name, labels in SPEC_METRICS.items():
        series = prom.api("series", **{"match[]": name})
        assert series, name
        assert all(labels <= set(s) for s in series), name
    everything = prom.api("series", **{"match[]": '{__name__=~"welfare_watch_.*"}'})
    values = {v for series in everything for v in series.values()}
    assert not {a.person_id for a in stored_alerts(ww.env)} & values


def test_every_dashboard_and_rule_expression_evaluates(
    ww: Cli, prometheus: Prometheus, tmp_path: Path
) -> None:
    ingest(ww, ["psb_deaths"])  # some data, so that rates and quantiles have input
    ww("wait", "--timeout", "120")
    _eventually(
        lambda: prometheus.scalar("sum(welfare_watch_records_received_total)"),
        lambda got: got is not None,
        "first scrape",
    )
    for expr in [*dashboard_exprs(), *rule_exprs()]:
        prometheus.query(for_prometheus(expr))  # raises unless status is success
        assert metric_names(expr)

    def rule_health() -> list[tuple[str, str, str]]:
        groups = prometheus.api("rules")["groups"]
        return [
            (r["name"], r["health"], r.get("lastError", "")) for g in groups for r in g["rules"]
        ]

    health = _eventually(
        rule_health, lambda got: bool(got) and all(h != "unknown" for _, h, _ in got), "rules"
    )
    assert [(name, error) for name, h, error in health if h != "ok"] == []
