"""Rules that conclude from a missing record (rules.md): only while the source is current.

A survival check that is not on record proves nothing when the feed that carries survival
checks has never delivered, or has gone quiet. And a check that arrives late but is dated
inside the window the alert judged shows the absence never held: the alert is refuted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from alerts.model import Alert
from connectors.feedspec import FeedSpec
from streams.rules.finding import Context
from streams.state import PersonState
from welfare_watch.models import FactKind

# Alert type -> the kind of record whose absence it concludes from.
ABSENCE_RULES: Mapping[str, FactKind] = {"SURVIVAL_CHECK_OVERDUE": "survival_check"}


def stale_sources(
    feeds: Mapping[str, FeedSpec], delivered: Mapping[str, dt.datetime], today: dt.date
) -> dict[str, str]:
    """Each kind that an absence rule reads and no current feed carries -> why not.

    A feed is current when it has completed a delivery and the latest one is within its
    `expected_every_days` of today (a date in the future counts as within).
    """
    stale: dict[str, str] = {}
    for kind in sorted(set(ABSENCE_RULES.values())):
        carriers = sorted(name for name, spec in feeds.items() if spec.fact == kind)
        reasons = [_not_current(feeds[name], delivered.get(name), today) for name in carriers]
        if not carriers:
            stale[kind] = f"no configured feed carries {kind} records"
        elif all(reasons):
            stale[kind] = "; ".join(r for r in reasons if r)
    return stale


def _not_current(spec: FeedSpec, last: dt.datetime | None, today: dt.date) -> str | None:
    if last is None:
        return f"{spec.name} has completed no delivery yet"
    every = spec.expected_every_days
    if every is not None and (today - last.date()).days > every:
        return f"{spec.name} last delivered on {last.date()}, more than {every} days before {today}"
    return None


def refutations(alerts: Iterable[Alert], state: PersonState, ctx: Context) -> dict[str, str]:
    """Open absence alerts that a record on file now refutes -> why.

    A record dated within the window before the alert's as-of date shows the absence never
    held; one dated after it only ends the condition (annotated as usual).
    """
    days = ctx.policy.thresholds.survival_check_days
    refuted: dict[str, str] = {}
    for alert in alerts:
        kind = ABSENCE_RULES.get(alert.type)
        if kind is None or not alert.is_open or alert.as_of is None:
            continue
        window = (alert.as_of - dt.timedelta(days=days), alert.as_of)
        known = alert.evidence_ids()
        for record in state.standing(kind):
            when = record.event_date
            if when is None or record.identity in known or not window[0] <= when <= window[1]:
                continue
            refuted[alert.alert_id] = (
                f"refuted: {record.feed} record {record.record_id} dated {when} falls within "
                f"the {days} days before {alert.as_of}, when this alert was raised"
            )
            break
    return refuted
