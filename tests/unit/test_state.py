"""Applying facts and roster changes to a person's state."""

from __future__ import annotations

import pytest

from streams.state import UnknownEnrollment, with_fact, with_roster_change
from tests.factories import enrollment, psb_death, state
from welfare_watch.models import RosterChange


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
