"""Rule 20 CASE_OVERDUE: open past due goes to the supervisor; resolved in time stays quiet."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.escalation import overdue
from alerts.model import Alert
from alerts.reconcile import reconcile
from streams.rules import evaluate
from tests.factories import CTX, POLICY, enrollment, psb_death, state

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def opened() -> Alert:
    s = state(enrollment(), psb_death())
    (alert,) = reconcile(evaluate(s, CTX), {}, s.revoked, now=NOW, trigger="event", policy=POLICY)
    return alert  # critical: due one day later


@pytest.mark.parametrize(
    ("status", "today", "fires"),
    [
        pytest.param("open", "2026-11-30", True, id="open past due"),
        pytest.param("acknowledged", "2026-11-30", True, id="acknowledged past due"),
        pytest.param("open", "2026-11-29", False, id="silent: due today"),
        pytest.param("resolved", "2026-11-30", False, id="silent: resolved"),
        pytest.param("dismissed", "2026-11-30", False, id="silent: dismissed"),
        pytest.param("withdrawn", "2026-11-30", False, id="silent: withdrawn"),
    ],
)
def test_overdue(status: str, today: str, fires: bool) -> None:
    alert = opened().model_copy(update={"status": status})
    findings = list(overdue([alert], dt.date.fromisoformat(today)))
    assert [(f.type, f.severity, f.to_supervisor) for f in findings] == (
        [("CASE_OVERDUE", "critical", True)] if fires else []
    )


def test_no_escalation_of_escalations() -> None:
    original = opened()
    (finding,) = overdue([original], dt.date(2026, 12, 1))
    (escalation,) = reconcile([finding], {}, frozenset(), now=NOW, trigger="scan", policy=POLICY)
    assert escalation.queue == "supervisor-210105"
    later = escalation.model_copy(update={"due_by": NOW})
    assert list(overdue([later], dt.date(2026, 12, 30))) == []
