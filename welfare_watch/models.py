"""The records that cross module boundaries: facts, enrollments and roster changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FactKind = Literal[
    "death",
    "move",
    "prison",
    "vehicle",
    "property",
    "company_role",
    "income",
    "staff_relative",
    "payment",
    "survival_check",
]

# A fact whose `status` attribute is this word withdraws the earlier record
# of the same feed with the same record id (psb_deaths 撤销).
REVOKED = "revoked"


def revoking(attrs: Mapping[str, str]) -> bool:
    """Whether a record with these attrs withdraws an earlier one of the same id."""
    return attrs.get("status") == REVOKED


def identity_of(feed: str, record_id: str, attrs: Mapping[str, str]) -> str:
    """A record's identity (Fact.identity)."""
    return f"{feed}:{record_id}:{REVOKED}" if revoking(attrs) else f"{feed}:{record_id}"


class Fact(BaseModel):
    """One department record, normalised: who, what, when, and where it came from."""

    model_config = ConfigDict(frozen=True)

    feed: str
    kind: FactKind
    record_id: str
    person_id: str
    name: str = ""
    event_date: dt.date | None = None
    attrs: dict[str, str] = Field(default_factory=dict)
    received_at: dt.datetime
    source: str = ""  # the file or request it came in
    # The file or request as a whole: its facts are evaluated together once all have been
    # applied (see connectors.delivery). Empty: evaluate at once.
    delivery: str = ""

    @property
    def revokes(self) -> bool:
        return revoking(self.attrs)

    @property
    def identity(self) -> str:
        """Unique per department record: the same record arriving twice has one identity."""
        return identity_of(self.feed, self.record_id, self.attrs)

    @property
    def revoked_identity(self) -> str:
        """For a revocation, the identity of the record it withdraws."""
        return f"{self.feed}:{self.record_id}"


Role = Literal["head", "member", "individual"]
EnrollmentStatus = Literal["active", "suspended", "exited"]


class Enrollment(BaseModel):
    """One row of the roster: one person in one program."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    name: str
    program: str
    household_id: str = ""
    role: Role
    district_code: str = Field(pattern=r"^\d{6}$")
    community: str = ""
    caseworker_id: str = ""
    monthly_amount: Decimal = Decimal("0.00")
    start_date: dt.date
    status: EnrollmentStatus
    # When the roster system made what this row says (a roster.changes message's time, or a
    # snapshot's): a newer one wins over an older one, whichever arrives last (streams.state).
    changed_at: dt.datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.person_id, self.program, self.household_id)

    @property
    def active(self) -> bool:
        return self.status == "active"


RosterOp = Literal["enroll", "update", "suspend", "resume", "exit"]
SnapshotOp = Literal["replace", "remove"]


class RosterChange(Enrollment):
    """A message on roster.changes: the roster columns plus the operation."""

    op: RosterOp
    # suspend/resume/exit messages may carry only the identifying columns.
    name: str = ""
    role: Role = "individual"
    district_code: str = Field(default="000000", pattern=r"^\d{6}$")
    start_date: dt.date = dt.date(1970, 1, 1)
    status: EnrollmentStatus = "active"


class SnapshotEntry(BaseModel):
    """One person of a roster snapshot loaded through roster.changes: `replace` (their
    enrollments are exactly these) or `remove` (they are in no program), with the snapshot's
    id and the time it was taken. Its people are evaluated at the snapshot's end marker."""

    model_config = ConfigDict(frozen=True)

    op: SnapshotOp
    person_id: str
    snapshot: str = Field(min_length=1)
    snapshot_at: dt.datetime
    enrollments: tuple[Enrollment, ...] = ()
