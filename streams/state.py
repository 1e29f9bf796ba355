"""Everything known about one person, and the pure views the rules read from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from streams.ledger import Ledger
from welfare_watch.models import Enrollment, Fact, FactKind, RosterChange, SnapshotEntry


@dataclass(frozen=True)
class PersonState:
    """One person's enrollments and every department fact about them: their payments in
    `payments` (streams.ledger), the others in `facts`."""

    person_id: str
    enrollments: tuple[Enrollment, ...] = ()
    facts: Mapping[str, Fact] = field(default_factory=dict)  # identity -> fact, not payments
    # The other people in this person's households, by household id (rule 13 needs them).
    co_members: Mapping[str, tuple[PersonState, ...]] = field(default_factory=dict)
    payments: Ledger = field(default_factory=Ledger)

    @cached_property
    def active_enrollments(self) -> tuple[Enrollment, ...]:
        return tuple(e for e in self.enrollments if e.active)

    @cached_property
    def revoked(self) -> frozenset[str]:
        """Identities of records withdrawn by a later revocation."""
        return frozenset(f.revoked_identity for f in self.facts.values() if f.revokes)

    @cached_property
    def _standing(self) -> dict[str, tuple[Fact, ...]]:
        by_kind: dict[str, list[Fact]] = {}
        revoked = self.revoked
        for fact in self.facts.values():
            if not fact.revokes and fact.identity not in revoked:
                by_kind.setdefault(fact.kind, []).append(fact)
        return {kind: tuple(sorted(found, key=_chronological)) for kind, found in by_kind.items()}

    def standing(self, kind: FactKind) -> list[Fact]:
        """Facts of one kind that are neither revocations nor revoked, oldest first (payments:
        `payments.standing`)."""
        if kind == "payment":
            raise ValueError("payments are in PersonState.payments, not among its facts")
        return list(self._standing.get(kind, ()))


def _chronological(fact: Fact) -> tuple[dt.date, dt.datetime, str]:
    return (fact.event_date or dt.date.min, fact.received_at, fact.identity)


def with_fact(state: PersonState, fact: Fact) -> PersonState:
    """The state with one more fact; the same record twice changes nothing."""
    if fact.kind == "payment":
        if fact.identity in state.payments:
            return state
        return replace(state, payments=state.payments.adding(judge_payment(state, fact)))
    if fact.identity in state.facts:
        return state
    return replace(state, facts={**state.facts, fact.identity: fact})


def judge_payment(state: PersonState, payment: Fact) -> Fact:
    """Record, with the payment, the roster as it stands when the payment arrives: rules 18
    and 19 judge a payment by that, not by later roster changes."""
    program = payment.attrs.get("program", "")
    active = [e for e in state.active_enrollments if e.program == program]
    verdict = {"enrolled": "active" if active else "inactive"}
    payee = next((e for e in active if e.role != "member"), None)
    if payee is not None:
        verdict["expected_amount"] = f"{payee.monthly_amount:.2f}"
    return payment.model_copy(update={"attrs": {**payment.attrs, **verdict}})


class UnknownEnrollment(ValueError):
    """A suspend, resume or exit for an enrollment the roster does not hold."""


_STATUS_BY_OP = {"suspend": "suspended", "resume": "active", "exit": "exited"}


def with_roster_change(state: PersonState, change: RosterChange) -> PersonState:
    """The state after one roster.changes message. A change older (`changed_at`, the
    message's time) than what the enrollment already says — a snapshot taken after it —
    changes nothing."""
    at = change.changed_at
    others = tuple(e for e in state.enrollments if e.key != change.key)
    current = next((e for e in state.enrollments if e.key == change.key), None)
    if _older(at, current):
        return state
    if change.op in ("enroll", "update"):
        enrollment = Enrollment.model_validate(change.model_dump(exclude={"op"}))
        return replace(state, enrollments=(*others, enrollment))
    if current is None:
        raise UnknownEnrollment(
            f"roster change '{change.op}' names an enrollment in {change.program} "
            "that the roster does not hold"
        )
    status = _STATUS_BY_OP[change.op]
    updated = current.model_copy(update={"status": status, "changed_at": at or current.changed_at})
    return replace(state, enrollments=(*others, updated))


def with_snapshot(state: PersonState, entry: SnapshotEntry) -> PersonState:
    """The state after one person of a roster snapshot: their enrollments are the snapshot's
    (none for `remove`), except one that a roster change made after the snapshot was taken,
    which keeps that change (whichever of the two arrived first)."""
    taken = entry.snapshot_at
    newer = {e.key: e for e in state.enrollments if _older(taken, e)}
    listed = [
        newer.get(e.key) or e.model_copy(update={"changed_at": taken}) for e in entry.enrollments
    ]
    kept = [e for key, e in newer.items() if key not in {x.key for x in entry.enrollments}]
    return replace(state, enrollments=(*listed, *kept))


def superseded(
    at: dt.datetime | None, offset: int | None, begun: Iterable[tuple[int, dt.datetime]]
) -> bool:
    """Whether a roster change made `at`, read at `offset` of its partition, is older than a
    roster snapshot begun before it there (`begun`: the begin markers' offsets and the
    snapshots' times): the snapshot, taken later, says what the roster is, and the loader sent
    a `remove` to anyone the change may have reached before the marker."""
    if at is None:
        return False
    return any((offset is None or marker < offset) and at < taken for marker, taken in begun)


def _older(at: dt.datetime | None, current: Enrollment | None) -> bool:
    """Whether information made `at` is older than what `current` says."""
    if at is None or current is None or current.changed_at is None:
        return False
    return at < current.changed_at


def with_enrollments(state: PersonState, enrollments: Iterable[Enrollment]) -> PersonState:
    return replace(state, enrollments=tuple(enrollments))
