"""The alert record (alerts.md) and its history."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, Field

from welfare_watch.models import Fact, FactKind

AlertStatus = Literal["open", "acknowledged", "resolved", "dismissed", "withdrawn"]
Trigger = Literal["event", "enrollment", "payment", "scan"]
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
Condition = Literal["holds", "ended", "outranked", "refuted"]

OPEN_STATUSES: frozenset[str] = frozenset({"open", "acknowledged"})
# Evidence that shows money went out, not why it should not have: an alert never rests on it.
NOT_GROUNDS: frozenset[str] = frozenset({"payment"})


def alert_id_for(key: tuple[str, ...]) -> str:
    """Stable id derived from the alert key, so a retried write is the same alert."""
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()
    return f"{key[0].lower()}-{digest[:16]}"


class Evidence(BaseModel):
    feed: str
    record_id: str
    kind: FactKind | None = None  # None: stored before kinds were recorded (counts as grounds)
    fact: str
    event_date: dt.date | None
    received_at: dt.datetime
    source: str = ""

    @property
    def identity(self) -> str:
        return f"{self.feed}:{self.record_id}"

    @property
    def is_grounds(self) -> bool:
        """Whether the alert rests on this record (a death, prison, move, asset…), so that
        its revocation can take the alert away; a payment is never grounds."""
        return self.kind not in NOT_GROUNDS

    @classmethod
    def of(cls, fact: Fact) -> Evidence:
        return cls(
            feed=fact.feed,
            record_id=fact.record_id,
            kind=fact.kind,
            fact=describe(fact),
            event_date=fact.event_date,
            received_at=fact.received_at,
            source=fact.source,
        )


def describe(fact: Fact) -> str:
    """One line saying what a department record reports."""
    a = fact.attrs
    match fact.kind:
        case "death":
            bound = (
                " (cremation: death on or before this date)" if a.get("date_is_upper_bound") else ""
            )
            return f"death reported by {fact.feed}{bound}"
        case "move":
            route = f"{a.get('from_region', '')} → {a.get('to_region', '')}"
            return f"household registration {a.get('direction', '')}: {route}"
        case "prison":
            return f"prison {a.get('event', '')}: {a.get('prison', '')}"
        case _:
            return f"{fact.kind} record from {fact.feed}"


class HistoryEntry(BaseModel):
    at: dt.datetime
    by: str  # "system" or the person who acted (the staff id their token names)
    action: str  # opened, updated, annotated, withdrawn, reopened, acknowledged, ...
    why: str
    role: str = ""  # the acting person's role; "" for the system
    token_id: str = ""  # the id of the token they acted with
    command_id: str = ""  # the command that made this change (a replayed one changes nothing)


class Alert(BaseModel):
    alert_id: str
    key: list[str]
    type: str
    severity: str
    person_id: str
    person_name: str
    name_mismatch: bool
    program: str
    household_id: str
    district_code: str
    community: str
    queue: str
    confidence: str
    recommended_action: str
    reason: str
    amount_at_risk: Decimal
    evidence: list[Evidence]
    trigger: Trigger
    event_time: dt.date | None
    ingested_at: dt.datetime
    detected_at: dt.datetime
    as_of: dt.date | None = None  # the date the rules judged when it was raised ("today")
    updated_at: dt.datetime
    due_by: dt.datetime
    status: AlertStatus
    condition: Condition = "holds"
    resolution: str | None = None
    version: int = 1
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def evidence_ids(self) -> set[str]:
        return {e.identity for e in self.evidence}

    def grounds_ids(self) -> set[str]:
        """The records the alert rests on (evidence other than payments)."""
        return {e.identity for e in self.evidence if e.is_grounds}
