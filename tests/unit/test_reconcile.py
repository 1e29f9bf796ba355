"""Reconciliation: one alert per key, updated by new evidence, withdrawn only by revocation."""

from __future__ import annotations

import datetime as dt

from alerts.model import Alert
from alerts.reconcile import reconcile
from streams.rules import evaluate
from streams.state import PersonState
from tests.factories import (
    CTX,
    POLICY,
    arrive,
    cremation,
    enrollment,
    fact,
    health_death,
    move,
    payment,
    prison,
    psb_death,
    state,
)
from welfare_watch.models import Fact

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def run(s: PersonState, existing: dict[str, Alert], minutes: int = 0) -> dict[str, Alert]:
    """Reconcile and return the stored alerts afterwards."""
    changed = reconcile(
        evaluate(s, CTX),
        existing,
        s.revoked,
        now=T0 + dt.timedelta(minutes=minutes),
        trigger="event",
        policy=POLICY,
    )
    return {**existing, **{a.alert_id: a for a in changed}}


def only(alerts: dict[str, Alert]) -> Alert:
    (alert,) = alerts.values()
    return alert


def test_opens_with_due_by_from_severity_sla_and_routes_to_caseworker() -> None:
    alert = only(run(state(enrollment(), psb_death()), {}))
    assert alert.status == "open"
    assert alert.queue == "cw-1"
    assert alert.due_by - alert.detected_at == dt.timedelta(days=1)  # critical
    assert [h.action for h in alert.history] == ["opened"]


def test_no_caseworker_routes_to_the_district_supervisor() -> None:
    alert = only(run(state(enrollment(caseworker_id=""), psb_death()), {}))
    assert alert.queue == "supervisor-210105"


def test_same_state_twice_changes_nothing() -> None:
    s = state(enrollment(), psb_death())
    first = run(s, {})
    changed = reconcile(evaluate(s, CTX), first, s.revoked, now=T0, trigger="event", policy=POLICY)
    assert changed == []


def test_second_and_third_source_update_one_alert() -> None:
    alerts = run(state(enrollment(), health_death()), {})
    assert only(alerts).confidence == "unverified"
    alerts = run(state(enrollment(), health_death(), cremation()), alerts, 1)
    alerts = run(state(enrollment(), health_death(), cremation(), psb_death()), alerts, 2)
    alert = only(alerts)
    assert alert.confidence == "confirmed"
    assert alert.recommended_action == "suspend_payment"
    assert len(alert.evidence) == 3
    assert alert.version == 3
    assert alert.detected_at == T0  # first detection stays


def test_revocation_withdraws_and_a_new_death_reopens() -> None:
    alerts = run(state(enrollment(), psb_death()), {})
    alerts = run(state(enrollment(), psb_death(), psb_death(status="revoked")), alerts, 1)
    assert only(alerts).status == "withdrawn"
    assert only(alerts).history[-1].action == "withdrawn"
    alerts = run(
        state(
            enrollment(), psb_death(), psb_death(status="revoked"), psb_death("2026-02-01", "GA2")
        ),
        alerts,
        2,
    )
    assert only(alerts).status == "open"
    assert only(alerts).history[-1].action == "reopened"


def test_revocation_with_another_source_left_downgrades_instead_of_withdrawing() -> None:
    alerts = run(state(enrollment(), psb_death(), health_death()), {})
    alerts = run(
        state(enrollment(), psb_death(), health_death(), psb_death(status="revoked")), alerts, 1
    )
    alert = only(alerts)
    assert alert.status == "open"
    assert alert.confidence == "unverified"
    assert "evidence withdrawn" in alert.history[-1].why


def test_resolved_as_confirmed_then_revoked_gets_a_restore_note() -> None:
    alert = only(run(state(enrollment(), psb_death()), {}))
    resolved = alert.model_copy(update={"status": "resolved", "resolution": "confirmed_suspended"})
    alerts = run(
        state(enrollment(), psb_death(), psb_death(status="revoked")), {alert.alert_id: resolved}, 1
    )
    assert only(alerts).status == "resolved"
    assert "restore the benefit" in only(alerts).history[-1].why
    again = run(state(enrollment(), psb_death(), psb_death(status="revoked")), alerts, 2)
    assert again == alerts  # noted once


def test_condition_ended_annotates_but_never_closes() -> None:
    admitted = prison("admitted", "2026-01-10", "S1")
    alerts = run(state(enrollment(), admitted), {})
    alerts = run(state(enrollment(), admitted, prison("released", "2026-06-01", "S2")), alerts, 1)
    alert = only(alerts)
    assert alert.status == "open"
    assert alert.condition == "ended"
    assert alert.history[-1].action == "annotated"


def test_death_outranks_an_open_move_alert_which_is_annotated_not_closed() -> None:
    moved = move("211202", "2026-03-15", "M1")
    alerts = run(state(enrollment(), moved), {})
    (move_id,) = alerts
    alerts = run(state(enrollment(), moved, psb_death()), alerts, 1)
    assert alerts[move_id].status == "open"
    assert alerts[move_id].condition == "outranked"
    assert {a.type for a in alerts.values()} == {"HUKOU_MOVED_OUT", "DECEASED_BENEFICIARY"}


def _tekun_without_checks() -> PersonState:
    e = enrollment(program="tekun", role="individual", start_date=dt.date(2020, 1, 1))
    return state(e)


def test_time_based_rules_open_alerts_only_in_the_scan() -> None:
    s = _tekun_without_checks()
    findings = evaluate(s, CTX)
    assert [f.type for f in findings] == ["SURVIVAL_CHECK_OVERDUE"]
    for trigger in ("event", "enrollment", "payment"):
        changed = reconcile(findings, {}, s.revoked, now=T0, trigger=trigger, policy=POLICY)
        assert changed == [], trigger
    (alert,) = reconcile(findings, {}, s.revoked, now=T0, trigger="scan", policy=POLICY)
    assert alert.type == "SURVIVAL_CHECK_OVERDUE"


def test_an_alert_without_evidence_is_annotated_not_withdrawn_when_its_condition_ends() -> None:
    s = _tekun_without_checks()
    (alert,) = reconcile(evaluate(s, CTX), {}, s.revoked, now=T0, trigger="scan", policy=POLICY)
    assert alert.evidence == []
    checked = state(
        *s.enrollments,
        fact("survival_check", "survival_checks", "C1", "2026-11-01", method="face"),
    )
    (after,) = reconcile(
        evaluate(checked, CTX), {alert.alert_id: alert}, checked.revoked,
        now=T0, trigger="event", policy=POLICY,
    )  # fmt: skip
    assert (after.status, after.condition) == ("open", "ended")


def _paid_after_death(*deaths: Fact) -> PersonState:
    return arrive(state(enrollment(), *deaths), payment("2025-12"), payment("2026-01"))


def test_revoked_death_withdraws_the_posthumous_payment_alert_too() -> None:
    """Payments are not grounds: with the only death revoked, nothing rests on it."""
    alerts = run(_paid_after_death(psb_death()), {})
    assert {a.type for a in alerts.values()} == {"DECEASED_BENEFICIARY", "POSTHUMOUS_PAYMENT"}
    revoked = arrive(_paid_after_death(psb_death()), psb_death(status="revoked"))
    alerts = run(revoked, alerts, 1)
    assert {a.type: a.status for a in alerts.values()} == {
        "DECEASED_BENEFICIARY": "withdrawn",
        "POSTHUMOUS_PAYMENT": "withdrawn",
    }
    assert all(a.history[-1].action == "withdrawn" for a in alerts.values())


def test_revoked_death_with_another_source_standing_keeps_the_payment_alert_open() -> None:
    alerts = run(_paid_after_death(psb_death(), health_death()), {})
    revoked = arrive(_paid_after_death(psb_death(), health_death()), psb_death(status="revoked"))
    alerts = run(revoked, alerts, 1)
    by_type = {a.type: a for a in alerts.values()}
    assert by_type["POSTHUMOUS_PAYMENT"].status == "open"
    assert by_type["POSTHUMOUS_PAYMENT"].confidence == "unverified"
    assert by_type["DECEASED_BENEFICIARY"].status == "open"


def test_a_condition_that_ends_without_revocation_still_annotates_a_payment_alert() -> None:
    """A release from prison is not a revocation: the paid months stay an open question."""
    admitted = prison("admitted", "2025-10-20", "S1")
    paid = arrive(state(enrollment(), admitted), payment("2025-12"))
    alerts = run(paid, {})
    assert "PAYMENT_DURING_INCARCERATION" in {a.type for a in alerts.values()}
    released = arrive(paid, prison("released", "2025-11-15", "S2"))
    alerts = run(released, alerts, 1)
    during = next(a for a in alerts.values() if a.type == "PAYMENT_DURING_INCARCERATION")
    assert (during.status, during.condition) == ("open", "ended")
