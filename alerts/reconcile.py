"""Reconcile a person's findings with their existing alerts: open, update, annotate, withdraw.

Pure: takes the clock as an argument and returns the alerts that changed (new versions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from alerts.model import Alert, Evidence, HistoryEntry, Trigger, alert_id_for
from alerts.routing import route
from streams.rules.finding import Finding
from welfare_watch.settings import Policy

SYSTEM = "system"
RESTORE_NOTE = "restore_benefit"


def reconcile(
    findings: Iterable[Finding],
    existing: Mapping[str, Alert],
    revoked: frozenset[str],
    *,
    now: dt.datetime,
    trigger: Trigger,
    policy: Policy,
    as_of: dt.date | None = None,
    refuted: Mapping[str, str] | None = None,
) -> list[Alert]:
    """The alerts to write so that the stored alerts agree with the findings.

    `as_of` is the date the rules judged (recorded on new alerts); `refuted` names alerts
    whose absence a late record disproves (alert id -> why), withdrawn if their finding is gone.
    """
    current: dict[str, Finding] = {}
    for finding in findings:
        current.setdefault(alert_id_for(finding.key), finding)
    changed: list[Alert] = []
    for alert_id, finding in current.items():
        alert = existing.get(alert_id)
        if finding.withheld is not None:
            update = None  # the rule cannot conclude now: leave things as they are
        elif finding.suppressed_by is not None:
            update = _outranked(alert, finding, now) if alert else None
        elif alert is None:
            opens = trigger == "scan" or not finding.scheduled
            update = _open(alert_id, finding, now, trigger, policy, as_of) if opens else None
        else:
            update = _refresh(alert, finding, now, trigger, policy, as_of)
        if update is not None:
            changed.append(update)
    for alert_id, alert in existing.items():
        if alert_id not in current:
            refutation = (refuted or {}).get(alert_id)
            update = _condition_gone(alert, revoked, now, refutation)
            if update is not None:
                changed.append(update)
    return changed


def _evidence(finding: Finding) -> list[Evidence]:
    return [Evidence.of(fact) for fact in finding.evidence]


def _ingested(evidence: list[Evidence], now: dt.datetime) -> dt.datetime:
    """When the newest department record arrived; roster-only findings have none."""
    return max((e.received_at for e in evidence), default=now)


def _due(finding: Finding, now: dt.datetime, policy: Policy) -> dt.datetime:
    return now + dt.timedelta(days=policy.sla_days.for_severity(finding.severity))


def _open(
    alert_id: str,
    finding: Finding,
    now: dt.datetime,
    trigger: Trigger,
    policy: Policy,
    as_of: dt.date | None,
) -> Alert:
    subject = finding.subject
    evidence = _evidence(finding)
    return Alert(
        alert_id=alert_id,
        key=list(finding.key),
        type=finding.type,
        severity=finding.severity,
        person_id=subject.person_id,
        person_name=subject.name,
        name_mismatch=finding.name_mismatch,
        program=subject.program,
        household_id=subject.household_id,
        district_code=subject.district_code,
        community=subject.community,
        queue=route(subject, finding.to_supervisor, policy),
        confidence=finding.confidence,
        recommended_action=finding.recommended_action,
        reason=finding.reason,
        amount_at_risk=finding.amount_at_risk,
        evidence=evidence,
        trigger=trigger,
        event_time=finding.event_time,
        ingested_at=_ingested(evidence, now),
        detected_at=now,
        as_of=as_of,
        updated_at=now,
        due_by=_due(finding, now, policy),
        status="open",
        history=[HistoryEntry(at=now, by=SYSTEM, action="opened", why=finding.reason)],
    )


def _changed(alert: Alert, now: dt.datetime, action: str, why: str, **fields: object) -> Alert:
    entry = HistoryEntry(at=now, by=SYSTEM, action=action, why=why)
    return alert.model_copy(
        update={
            **fields,
            "version": alert.version + 1,
            "updated_at": now,
            "history": [*alert.history, entry],
        }
    )


def _differences(alert: Alert, finding: Finding, evidence: list[Evidence]) -> list[str]:
    before, after = alert.evidence_ids(), {e.identity for e in evidence}
    notes = []
    if added := sorted(after - before):
        notes.append("new evidence: " + ", ".join(added))
    if removed := sorted(before - after):
        notes.append("evidence withdrawn: " + ", ".join(removed))
    if finding.confidence != alert.confidence:
        notes.append(f"confidence {alert.confidence} → {finding.confidence}")
    if finding.amount_at_risk != alert.amount_at_risk:
        notes.append(f"amount at risk {alert.amount_at_risk} → {finding.amount_at_risk}")
    if finding.recommended_action != alert.recommended_action:
        notes.append(f"recommended action → {finding.recommended_action}")
    if alert.condition != "holds":
        notes.append("the condition holds again")
    return notes


def _refresh(
    alert: Alert,
    finding: Finding,
    now: dt.datetime,
    trigger: Trigger,
    policy: Policy,
    as_of: dt.date | None,
) -> Alert | None:
    evidence = _evidence(finding)
    notes = _differences(alert, finding, evidence)
    if not notes:
        return None
    if not alert.is_open and alert.status != "withdrawn":
        # Closed by a person: attach new evidence and tell them, but leave the decision theirs.
        added = [e for e in evidence if e.identity not in alert.evidence_ids()]
        if not added:
            return None
        why = "new evidence after the alert was closed: " + ", ".join(e.identity for e in added)
        return _changed(alert, now, "annotated", why, evidence=[*alert.evidence, *added])
    fields: dict[str, object] = {
        "evidence": evidence,
        "confidence": finding.confidence,
        "amount_at_risk": finding.amount_at_risk,
        "recommended_action": finding.recommended_action,
        "name_mismatch": finding.name_mismatch,
        "event_time": finding.event_time,
        "reason": finding.reason,
        "ingested_at": _ingested(evidence, alert.ingested_at),
        "trigger": trigger,
        "condition": "holds",
    }
    action = "updated"
    if alert.status == "withdrawn":
        action = "reopened"
        fields |= {
            "status": "open",
            "due_by": _due(finding, now, policy),
            "as_of": as_of,
        }
    return _changed(alert, now, action, "; ".join(notes), **fields)


def _outranked(alert: Alert, finding: Finding, now: dt.datetime) -> Alert | None:
    if not alert.is_open or alert.condition == "outranked":
        return None
    why = f"the person's {finding.suppressed_by} outranks this warning; it stays open for review"
    return _changed(alert, now, "annotated", why, condition="outranked")


def _condition_gone(
    alert: Alert, revoked: frozenset[str], now: dt.datetime, refutation: str | None
) -> Alert | None:
    grounds = alert.grounds_ids()
    all_revoked = bool(grounds) and grounds <= revoked  # roster-only alerts have none
    if alert.is_open:
        if all_revoked:
            why = "the records it rested on were revoked: " + ", ".join(sorted(grounds))
            return _changed(alert, now, "withdrawn", why, status="withdrawn")
        if refutation is not None:
            return _changed(
                alert, now, "withdrawn", refutation, status="withdrawn", condition="refuted"
            )
        if alert.condition == "holds":
            why = (
                "the condition no longer holds; the period before may still have been paid wrongly"
            )
            return _changed(alert, now, "annotated", why, condition="ended")
        return None
    confirmed = (alert.resolution or "").startswith("confirmed")
    noted = any(h.action == RESTORE_NOTE for h in alert.history)
    if alert.status == "resolved" and confirmed and all_revoked and not noted:
        why = "the evidence this alert was confirmed on was revoked: restore the benefit"
        return _changed(alert, now, RESTORE_NOTE, why)
    return None
