"""Applying facts and roster changes to a person's state."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.state import (
    UnknownEnrollment,
    superseded,
    with_fact,
    with_roster_change,
    with_snapshot,
)
from tests.factories import PERSON, enrollment, psb_death, state
from welfare_watch.models import Enrollment, RosterChange, SnapshotEntry


def change(op: str, **extra: object) -> RosterChange:
    return RosterChange.model_validate({**enrollment().model_dump(), "op": op, **extra})


def test_same_fact_twice_is_one_fact() -> None:
    once = with_fact(state(), psb_death())
    assert with_fact(once, psb_death()) is once
    assert len(once.facts) == 1


def test_revocation_is_kept_beside_the_record_it_revokes() -> None:
    s = with_fact(with_fact(state(), psb_death()), psb_death(status="revoked"))
    assert len(s.facts) == 2
    assert s.revoked == {"psb_deaths:GA1"}
    assert s.standing("death") == []


@pytest.mark.parametrize(
    ("op", "status"), [("suspend", "suspended"), ("exit", "exited"), ("resume", "active")]
)
def test_status_operations(op: str, status: str) -> None:
    s = with_roster_change(state(enrollment(status="suspended")), change(op))
    (only,) = s.enrollments
    assert only.status == status


def test_enroll_adds_and_update_replaces() -> None:
    s = with_roster_change(state(), change("enroll"))
    s = with_roster_change(s, change("update", caseworker_id="cw-9"))
    (only,) = s.enrollments
    assert only.caseworker_id == "cw-9"


def test_exit_of_an_unknown_enrollment_is_refused() -> None:
    with pytest.raises(UnknownEnrollment):
        with_roster_change(state(), change("exit"))


# --- a snapshot through roster.changes and the changes around it -----------------------------

T = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)


def snapshot(*enrollments: Enrollment, op: str = "replace", at: dt.datetime = T) -> SnapshotEntry:
    return SnapshotEntry.model_validate(
        {"op": op, "person_id": PERSON, "snapshot": "S1", "snapshot_at": at,
         "enrollments": enrollments}
    )  # fmt: skip


def test_a_snapshot_replaces_every_enrollment_it_does_not_list() -> None:
    before = state(enrollment(), enrollment(program="tekun"))
    after = with_snapshot(before, snapshot(enrollment(caseworker_id="cw-2")))
    assert [(e.program, e.caseworker_id, e.changed_at) for e in after.enrollments] == [
        ("dibao_urban", "cw-2", T)
    ]
    assert with_snapshot(before, snapshot(op="remove")).enrollments == ()


def test_a_change_made_after_the_snapshot_wins_whichever_arrives_first() -> None:
    later = T + dt.timedelta(seconds=5)
    exit_later = change("exit", changed_at=later)
    listed = snapshot(enrollment(status="active"))
    change_first = with_snapshot(with_roster_change(state(enrollment()), exit_later), listed)
    snapshot_first = with_roster_change(with_snapshot(state(enrollment()), listed), exit_later)
    for result in (change_first, snapshot_first):
        (only,) = result.enrollments
        assert (only.status, only.changed_at) == ("exited", later)
    enrolled_later = change("enroll", program="tekun", household_id="", changed_at=later)
    kept = with_snapshot(with_roster_change(state(), enrolled_later), snapshot(op="remove"))
    assert [e.program for e in kept.enrollments] == ["tekun"]


def test_a_change_made_before_the_snapshot_loses_whichever_arrives_first() -> None:
    earlier = T - dt.timedelta(seconds=5)
    exit_earlier = change("exit", changed_at=earlier)
    listed = snapshot(enrollment(status="active"))
    change_first = with_snapshot(with_roster_change(state(enrollment()), exit_earlier), listed)
    snapshot_first = with_roster_change(with_snapshot(state(enrollment()), listed), exit_earlier)
    for result in (change_first, snapshot_first):
        (only,) = result.enrollments
        assert (only.status, only.changed_at) == ("active", T)


def test_a_change_older_than_a_snapshot_begun_before_it_in_its_partition_is_superseded() -> None:
    begun = [(40, T)]
    earlier, later = T - dt.timedelta(seconds=5), T + dt.timedelta(seconds=5)
    assert superseded(earlier, 41, begun)  # after the marker, made before the snapshot
    assert not superseded(later, 41, begun)  # made after it: it wins (with_snapshot)
    assert not superseded(earlier, 39, begun)  # before the marker: the loader saw its person
    assert not superseded(earlier, 41, [])  # no snapshot begun here
    assert not superseded(None, 41, begun)
    assert superseded(earlier, 41, [(10, T - dt.timedelta(days=1)), (40, T)])
