"""The alerting rules and the dashboard: promtool's checks and unit tests, names, runbooks."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.monitoring import (
    RULES,
    RULES_TEST,
    SPEC_METRICS,
    dashboard_exprs,
    dashboard_panels,
    exported_names,
    metric_names,
    rule_exprs,
    rules,
    runbook_anchors,
)


def _promtool() -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make setup` installs Debian's prometheus package"
    return promtool


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    done = subprocess.run(
        [_promtool(), "test", "rules", str(RULES_TEST)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=RULES_TEST.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_has_a_unit_test_where_it_fires() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if not case.get("exp_alerts")
    }
    names = {rule["alert"] for rule in rules()}
    assert names - fired == set()
    assert names - silent == set()  # and one where it stays silent
    assert "WelfareWatchFeedSilent" in names


def test_every_rule_names_its_runbook_in_the_operations_guide() -> None:
    anchors = runbook_anchors()
    for rule in rules():
        runbook = rule["annotations"]["runbook"]
        page, _, anchor = runbook.partition("#")
        assert page == "docs/operations.md"
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"docs/operations.md has no section {rule['alert']}"


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_expressions_name_only_metrics_the_product_exports(source: str) -> None:
    exprs = dashboard_exprs() if source == "dashboard" else rule_exprs()
    exported = set(exported_names()) | {"up"}
    assert exprs
    for expr in exprs:
        assert metric_names(expr) - exported == set(), expr


def test_the_spec_names_are_exported_with_their_labels() -> None:
    exported = exported_names()
    assert set(SPEC_METRICS) - set(exported) == set()


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    used = set().union(*(metric_names(e) for e in dashboard_exprs()))
    for needed in (
        "welfare_watch_records_received_total",
        "welfare_watch_records_rejected_total",
        "welfare_watch_feed_last_record_timestamp_seconds",
        "welfare_watch_feed_overdue",
        "welfare_watch_alerts_total",
        "welfare_watch_detection_latency_seconds_bucket",
        "welfare_watch_consumer_lag",
        "welfare_watch_open_alerts",
        "welfare_watch_oldest_open_alert_age_seconds",
        "welfare_watch_false_matches_total",
        "welfare_watch_worker_oldest_unprocessed_batch_age_seconds",
        "up",
    ):
        assert needed in used, needed
    latency = [e for e in dashboard_exprs() if "detection_latency" in e]
    assert any("histogram_quantile(0.5," in e for e in latency)
    assert any("histogram_quantile(0.99," in e for e in latency)
    uids = {p["datasource"]["uid"] for p in dashboard_panels()}
    assert uids == {"welfare-watch-prometheus"}  # the provisioned datasource
