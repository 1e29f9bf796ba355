"""Rule 20 CASE_OVERDUE: an alert still open past its due time goes to the supervisor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from alerts.model import Alert
from streams.rules.finding import Finding, Subject

CASE_OVERDUE = "CASE_OVERDUE"


def overdue(alerts: Iterable[Alert], today: dt.date) -> Iterator[Finding]:
    """One escalation per overdue alert; an escalation is never escalated itself."""
    for alert in alerts:
        if alert.type == CASE_OVERDUE or not alert.is_open or alert.due_by.date() >= today:
            continue
        yield Finding(
            type=CASE_OVERDUE,
            key=(CASE_OVERDUE, alert.alert_id),
            subject=Subject(
                alert.person_id,
                alert.person_name,
                alert.program,
                alert.household_id,
                alert.district_code,
                alert.community,
                caseworker_id="",
            ),
            severity=alert.severity,  # type: ignore[arg-type]
            recommended_action="escalate",
            evidence=(),
            event_time=alert.due_by.date(),
            to_supervisor=True,
            scheduled=True,
            reason=f"{alert.type} alert {alert.alert_id} in queue {alert.queue} was due "
            f"{alert.due_by:%Y-%m-%d %H:%M} UTC and is still {alert.status}",
        )
