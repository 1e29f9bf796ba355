"""The monitoring files (rules, dashboard) and the metric names the product exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import redis
import yaml
from prometheus_client import CollectorRegistry

from alerts.webhooks import WebhookMetrics
from welfare_watch.lag_metrics import LagCollector
from welfare_watch.metrics import Metrics
from welfare_watch.settings import REPO_ROOT
from welfare_watch.store_metrics import StoreCollector, families, summarise

DEPLOY = REPO_ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
RULES_TEST = DEPLOY / "prometheus" / "rules_test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "welfare-watch.json"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"

# interfaces.md, "Metrics": the names dashboards and alerting rules rely on, with their labels
SPEC_METRICS = {
    "welfare_watch_records_received_total": {"feed"},
    "welfare_watch_records_rejected_total": {"feed"},
    "welfare_watch_alerts_total": {"type", "severity"},
    "welfare_watch_detection_latency_seconds_bucket": {"le"},
    "welfare_watch_open_alerts": {"severity", "district"},
    "welfare_watch_oldest_open_alert_age_seconds": {"severity"},
    "welfare_watch_consumer_lag": {"topic", "group"},
    "welfare_watch_false_matches_total": {"feed"},
    "welfare_watch_feed_last_record_timestamp_seconds": {"feed"},
}

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
}
_METRIC = re.compile(r"\b(welfare_watch_[a-z0-9_]+|up)\b")


def exported_names() -> dict[str, str]:
    """Every sample name any welfare-watch process can export -> its family's name."""
    registry = CollectorRegistry()
    Metrics(registry)
    WebhookMetrics(registry)
    found = list(registry.collect())
    found += list(families(summarise([], {}, [], [], 0.0)))
    found += list(LagCollector(dict).collect())
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    found += list(StoreCollector(nowhere, [], []).collect())  # store_up 0, nothing else
    names: dict[str, str] = {}
    for family in found:
        for suffix in _SUFFIXES[family.type]:
            names[family.name + suffix] = family.name
    return names


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    board = json.loads(DASHBOARD.read_text())
    return [p for p in board["panels"] if p["type"] != "row"]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def rule_exprs() -> list[str]:
    return [str(rule["expr"]) for rule in rules()]


def metric_names(expr: str) -> set[str]:
    """The metrics a PromQL expression reads (the product's own, and Prometheus's `up`)."""
    return set(_METRIC.findall(expr))


def for_prometheus(expr: str) -> str:
    """A dashboard expression as Prometheus itself takes it: Grafana's variables filled in."""
    return expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")


def runbook_anchors(path: Path = OPERATIONS) -> set[str]:
    """The anchors of docs/operations.md's headings, as GitHub makes them."""
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors
