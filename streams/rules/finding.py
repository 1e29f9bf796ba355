"""What a rule returns: one problem with one case, with its evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from welfare_watch.models import Enrollment, Fact
from welfare_watch.settings import Policy, Severity

Confidence = Literal["confirmed", "unverified"]

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the person: the policy, the date, and which kinds of
    department record cannot be relied on to be present (kind -> why: a rule that concludes
    from a missing record holds back while its source is not current)."""

    policy: Policy
    today: dt.date
    stale: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Subject:
    """Who and which case an alert is about: what routing and the inbox need."""

    person_id: str
    name: str
    program: str
    household_id: str
    district_code: str
    community: str
    caseworker_id: str

    @classmethod
    def of(cls, enrollment: Enrollment) -> Subject:
        return cls(
            enrollment.person_id,
            enrollment.name,
            enrollment.program,
            enrollment.household_id,
            enrollment.district_code,
            enrollment.community,
            enrollment.caseworker_id,
        )


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on one case. `suppressed_by` names what outranks it."""

    type: str
    key: tuple[str, ...]
    subject: Subject
    severity: Severity
    recommended_action: str
    evidence: tuple[Fact, ...]
    reason: str
    confidence: Confidence = "confirmed"
    event_time: dt.date | None = None
    amount_at_risk: Decimal = ZERO
    to_supervisor: bool = False
    suppressed_by: str | None = None
    # Time-based rules (15, 16, 17, 20) open alerts only in the scan: on other triggers a
    # calendar condition seen before the rest of the data has arrived would be noise.
    scheduled: bool = False
    # Why the rule cannot conclude now (its source is not current): nothing opens, and an
    # alert already open for this key is left as it is.
    withheld: str | None = None

    @property
    def name_mismatch(self) -> bool:
        """A department spelled the name differently: the caseworker verifies identity."""
        roster_name = "".join(self.subject.name.split())
        return any(f.name and "".join(f.name.split()) != roster_name for f in self.evidence)


def standard_key(type_: str, enrollment: Enrollment) -> tuple[str, ...]:
    """The default alert key (rules.md): type, person, program."""
    return (type_, enrollment.person_id, enrollment.program)


def program_name(ctx: Context, code: str) -> str:
    program = ctx.policy.programs.get(code)
    return program.name if program else code


def subject_for(
    person_id: str,
    program: str,
    state_enrollments: tuple[Enrollment, ...],
    fallback_name: str,
    ctx: Context,
) -> Subject:
    """The case a payment is about: its enrollment in that program (active first), else a
    case without a caseworker in the district that issued the ID number, or the city's."""
    candidates = sorted(
        (e for e in state_enrollments if e.program == program), key=lambda e: not e.active
    )
    if candidates:
        return Subject.of(candidates[0])
    district = ctx.policy.city.district_of(person_id[:6])
    return Subject(person_id, fallback_name, program, "", district, "", "")
