"""Rules 8, 9 and 14 as tables: duplicate enrollments and households, staff relatives."""

from __future__ import annotations

import pytest

from streams.rules import evaluate
from tests.factories import CTX, enrollment, fact, of_kind, psb_death, state
from welfare_watch.models import Enrollment, Fact

DUP, HOUSEHOLDS = "DUPLICATE_ENROLLMENT", "DUPLICATE_HOUSEHOLD"


def tekun() -> Enrollment:
    return enrollment(program="tekun", role="individual")


@pytest.mark.parametrize(
    ("enrollments", "expected"),
    [
        pytest.param([enrollment(), tekun()], [DUP], id="dibao and tekun share subsistence"),
        pytest.param(
            [
                enrollment(program="orphan", role="individual"),
                enrollment(program="unsupported_child", role="individual"),
            ],
            [DUP],
            id="two child programs",
        ),
        pytest.param(
            [
                enrollment(program="disability_living", role="individual"),
                enrollment(program="disability_care", role="individual"),
            ],
            [],
            id="silent: disability programs share no group",
        ),
        pytest.param(
            [
                enrollment(household_id="HH-1"),
                enrollment(program="dibao_rural", household_id="HH-2"),
            ],
            [HOUSEHOLDS],
            id="two household programs in two households is rule 9",
        ),
        pytest.param(
            [
                enrollment(household_id="HH-1"),
                enrollment(program="dibao_rural", household_id="HH-1"),
            ],
            [DUP],
            id="two household programs in one household",
        ),
        pytest.param(
            [enrollment(household_id="HH-1"), enrollment(household_id="HH-2", role="member")],
            [HOUSEHOLDS],
            id="one program, two households",
        ),
        pytest.param(
            [enrollment(), tekun().model_copy(update={"status": "exited"})],
            [],
            id="silent: one inactive",
        ),
        pytest.param([enrollment()], [], id="silent: one enrollment"),
    ],
)
def test_duplicates(enrollments: list[Enrollment], expected: list[str]) -> None:
    assert of_kind(evaluate(state(*enrollments), CTX), DUP, HOUSEHOLDS) == expected


def test_duplicate_is_one_alert_per_person() -> None:
    three = [enrollment(), tekun(), enrollment(program="dibao_rural", household_id="HH-1")]
    findings = [f for f in evaluate(state(*three), CTX) if f.type == DUP]
    assert [f.key for f in findings] == [(DUP, three[0].person_id)]


def relative() -> Fact:
    return fact(
        "staff_relative", "staff_relatives", "R1", "2026-01-01", staff_id="MZ-1", relation="兄弟"
    )


@pytest.mark.parametrize(
    ("items", "fires"),
    [
        pytest.param([enrollment(), relative()], True, id="declared relative"),
        pytest.param([enrollment(), relative(), psb_death()], True, id="death does not outrank"),
        pytest.param([enrollment(status="exited"), relative()], False, id="silent: not active"),
        pytest.param([enrollment()], False, id="silent: no declaration"),
    ],
)
def test_staff_relative(items: list[Enrollment | Fact], fires: bool) -> None:
    findings = [f for f in evaluate(state(*items), CTX) if f.type == "STAFF_RELATIVE"]
    assert [(f.to_supervisor, f.severity) for f in findings] == (
        [(True, "medium")] if fires else []
    )
