"""Rules that conclude from a missing record: only while the source is current; refuted by a
late record dated inside the window they judged."""

from __future__ import annotations

import datetime as dt

from alerts.model import Alert
from alerts.reconcile import reconcile
from connectors.delivery import DeliveryEnd
from connectors.feedspec import load_feeds
from streams.abandoned import abandoned, end_marker
from streams.rules import Context, evaluate
from streams.rules.sources import refutations, stale_sources
from streams.state import PersonState
from streams.store import PendingDelivery
from tests.factories import POLICY, TODAY, enrollment, fact, state

FEEDS = load_feeds()
T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
FRESH = {"survival_checks": dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)}
CURRENT = Context(POLICY, TODAY, stale_sources(FEEDS, FRESH, TODAY))


def tekun(*checks: str) -> PersonState:
    e = enrollment(program="tekun", role="individual", start_date=dt.date(2020, 1, 1))
    found = [
        fact("survival_check", "survival_checks", f"C{i}", day, method="face")
        for i, day in enumerate(checks)
    ]
    return state(e, *found)


def scan(s: PersonState, ctx: Context, existing: dict[str, Alert] | None = None) -> list[Alert]:
    existing = existing or {}
    return reconcile(
        evaluate(s, ctx), existing, s.revoked, now=T0, trigger="scan", policy=POLICY,
        as_of=ctx.today, refuted=refutations(existing.values(), s, ctx),
    )  # fmt: skip


def test_a_feed_that_never_delivered_is_not_current() -> None:
    stale = stale_sources(FEEDS, {}, TODAY)
    assert stale == {"survival_check": "survival_checks has completed no delivery yet"}


def test_a_feed_is_current_within_its_expected_interval_and_stale_past_it() -> None:
    assert FEEDS["survival_checks"].expected_every_days == 7
    week = {"survival_checks": dt.datetime(2026, 11, 21, 23, 0, tzinfo=dt.UTC)}
    assert stale_sources(FEEDS, week, TODAY) == {}
    older = {"survival_checks": dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC)}
    (why,) = stale_sources(FEEDS, older, TODAY).values()
    assert why == "survival_checks last delivered on 2026-11-20, more than 7 days before 2026-11-28"


def test_a_delivery_after_the_as_of_date_counts_as_current() -> None:
    assert stale_sources(FEEDS, FRESH, dt.date(2026, 6, 1)) == {}


def test_nothing_opens_while_the_survival_check_feed_is_not_current() -> None:
    stale = Context(POLICY, TODAY, stale_sources(FEEDS, {}, TODAY))
    (finding,) = evaluate(tekun(), stale)
    assert finding.type == "SURVIVAL_CHECK_OVERDUE"
    assert finding.withheld == "survival_checks has completed no delivery yet"
    assert scan(tekun(), stale) == []


def test_the_same_person_alerts_once_the_feed_is_current() -> None:
    (alert,) = scan(tekun(), CURRENT)
    assert (alert.type, alert.status, alert.as_of) == ("SURVIVAL_CHECK_OVERDUE", "open", TODAY)


def test_an_open_alert_is_left_alone_while_the_feed_goes_quiet() -> None:
    (alert,) = scan(tekun(), CURRENT)
    later = TODAY + dt.timedelta(days=30)
    quiet = Context(POLICY, later, stale_sources(FEEDS, FRESH, later))
    assert quiet.stale
    assert scan(tekun(), quiet, {alert.alert_id: alert}) == []


def test_a_late_check_dated_inside_the_window_withdraws_the_alert_as_refuted() -> None:
    (alert,) = scan(tekun(), CURRENT)
    (after,) = scan(tekun("2026-11-02"), CURRENT, {alert.alert_id: alert})
    assert (after.status, after.condition) == ("withdrawn", "refuted")
    assert after.history[-1].why.startswith("refuted: survival_checks record C0 dated 2026-11-02")


def test_a_check_dated_after_the_as_of_date_only_annotates() -> None:
    (alert,) = scan(tekun(), CURRENT)
    later = Context(POLICY, dt.date(2026, 12, 5), CURRENT.stale)
    (after,) = scan(tekun("2026-12-02"), later, {alert.alert_id: alert})
    assert (after.status, after.condition) == ("open", "ended")


def test_a_check_older_than_the_window_neither_refutes_nor_ends() -> None:
    (alert,) = scan(tekun("2026-05-01"), CURRENT)
    assert scan(tekun("2026-05-01", "2026-06-01"), CURRENT, {alert.alert_id: alert})[0].status == (
        "open"
    )


def test_other_rules_are_not_refuted_by_a_record_in_their_window() -> None:
    """Only absence rules are refuted: a release from prison still annotates."""
    admitted = fact("prison", "prison", "S1", "2026-10-01", event="admitted", prison="监狱")
    jailed = state(enrollment(), admitted)
    (alert,) = scan(jailed, CURRENT)
    released = state(
        enrollment(), admitted, fact("prison", "prison", "S2", "2026-11-01", event="released")
    )
    assert refutations([alert], released, CURRENT) == {}
    (after,) = scan(released, CURRENT, {alert.alert_id: alert})
    assert (after.status, after.condition) == ("open", "ended")


def _pending(seen: float, partition: int = 0) -> PendingDelivery:
    return PendingDelivery("d1", partition, "prison", False, seen)


def test_a_delivery_quiet_past_the_limit_is_abandoned_and_its_marker_says_so() -> None:
    quiet = abandoned([_pending(100.0), _pending(150.0, 1)], now=200.0, after=60.0)
    assert [(p.delivery, p.partition) for p in quiet] == [("d1", 0)]
    end = DeliveryEnd.decode(end_marker(quiet[0]), 0)
    assert (end.delivery, end.feed, end.abandoned, end.payment) == ("d1", "prison", True, False)


def test_a_pending_entry_round_trips_through_its_redis_form() -> None:
    entry = _pending(123.5, 3)
    assert PendingDelivery.decode(entry.field, entry.as_json()) == entry
