"""Rules 1, 2 and 4 as tables of states, with the cases that must stay silent."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.rules import evaluate
from tests.factories import CTX, cremation, enrollment, health_death, prison, psb_death, state
from welfare_watch.models import Enrollment, Fact

DEATH_TYPES = {"DECEASED_BENEFICIARY", "DECEASED_HOUSEHOLD_MEMBER"}


def kinds(findings: list) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return sorted(
        (f.type, f.confidence, f.recommended_action) for f in findings if f.type in DEATH_TYPES
    )


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param(
            [enrollment(), psb_death()],
            [("DECEASED_BENEFICIARY", "confirmed", "suspend_payment")],
            id="psb alone confirms",
        ),
        pytest.param(
            [enrollment(), health_death()],
            [("DECEASED_BENEFICIARY", "unverified", "verify_in_person")],
            id="one medical certificate is unverified",
        ),
        pytest.param(
            [enrollment(), health_death(), cremation()],
            [("DECEASED_BENEFICIARY", "confirmed", "suspend_payment")],
            id="two different death feeds confirm",
        ),
        pytest.param(
            [enrollment(), health_death("2025-11-02", "Y1"), health_death("2025-11-02", "Y2")],
            [("DECEASED_BENEFICIARY", "unverified", "verify_in_person")],
            id="two records of one feed stay unverified",
        ),
        pytest.param(
            [enrollment(program="tekun", role="individual"), cremation()],
            [("DECEASED_BENEFICIARY", "unverified", "verify_in_person")],
            id="individual enrollment",
        ),
        pytest.param(
            [enrollment(role="member"), psb_death()],
            [("DECEASED_HOUSEHOLD_MEMBER", "confirmed", "recalculate_benefit")],
            id="dead household member",
        ),
        pytest.param(
            [enrollment(status="exited"), psb_death()], [], id="silent: exited enrollment"
        ),
        pytest.param(
            [enrollment(status="suspended"), psb_death()], [], id="silent: suspended enrollment"
        ),
        pytest.param(
            [enrollment(), psb_death(), psb_death(status="revoked")],
            [],
            id="silent: only death record revoked",
        ),
        pytest.param(
            [enrollment(), psb_death(status="revoked"), psb_death()],
            [],
            id="silent: revocation arrived before the record",
        ),
        pytest.param(
            [enrollment(), psb_death(), psb_death(status="revoked"), health_death()],
            [("DECEASED_BENEFICIARY", "unverified", "verify_in_person")],
            id="revoked psb leaves the medical certificate",
        ),
        pytest.param([enrollment()], [], id="silent: no death"),
    ],
)
def test_death_rules(items: list, expected: list) -> None:  # type: ignore[type-arg]
    assert kinds(evaluate(state(*items), CTX)) == expected


def test_three_sources_make_one_finding_with_three_records_and_the_earliest_date() -> None:
    findings = evaluate(
        state(
            enrollment(),
            cremation("2025-11-05"),
            health_death("2025-11-02"),
            psb_death("2025-11-03"),
        ),
        CTX,
    )
    assert len(findings) == 1
    assert {f.feed for f in findings[0].evidence} == {"psb_deaths", "health_deaths", "cremations"}
    assert findings[0].event_time == dt.date(2025, 11, 2)


def test_cremation_date_bounds_the_death_date() -> None:
    (finding,) = evaluate(state(enrollment(), cremation("2025-11-05")), CTX)
    assert finding.event_time == dt.date(2025, 11, 5)


def test_name_mismatch_is_flagged_but_still_matches() -> None:
    other = psb_death().model_copy(update={"name": "杨得福"})
    (finding,) = evaluate(state(enrollment(), other), CTX)
    assert finding.name_mismatch
    spaced = psb_death().model_copy(update={"name": "杨 德福"})
    (finding,) = evaluate(state(enrollment(), spaced), CTX)
    assert not finding.name_mismatch


@pytest.mark.parametrize(
    ("records", "fires"),
    [
        pytest.param([prison("admitted", "2026-01-10", "S1")], True, id="admitted"),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1"), prison("released", "2026-06-01", "S2")],
            False,
            id="silent: released later",
        ),
        pytest.param([prison("released", "2026-06-01", "S2")], False, id="silent: only a release"),
        pytest.param(
            [prison("released", "2025-06-01", "S2"), prison("admitted", "2026-01-10", "S3")],
            True,
            id="re-admitted after a release",
        ),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1"), prison("released", "2026-01-10", "S2")],
            False,
            id="silent: released the same day",
        ),
    ],
)
def test_incarcerated(records: list, fires: bool) -> None:  # type: ignore[type-arg]
    findings = evaluate(
        state(enrollment(program="disability_care", role="individual"), *records), CTX
    )
    assert [f.type for f in findings] == (["INCARCERATED_BENEFICIARY"] if fires else [])


def test_incarcerated_is_silent_without_an_active_enrollment() -> None:
    items: list[Enrollment | Fact] = [
        enrollment(status="exited"),
        prison("admitted", "2026-01-10", "S1"),
    ]
    assert evaluate(state(*items), CTX) == []
