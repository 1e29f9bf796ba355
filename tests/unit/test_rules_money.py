"""Rules 3, 5, 18 and 19 as tables: payments after death, in prison, wrong, to nobody."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from streams.rules import evaluate
from tests.factories import (
    CTX,
    arrive,
    enrollment,
    health_death,
    of_kind,
    payment,
    prison,
    psb_death,
    state,
)

POSTHUMOUS = "POSTHUMOUS_PAYMENT"
IN_PRISON = "PAYMENT_DURING_INCARCERATION"


@pytest.mark.parametrize(
    ("months", "amount"),
    [
        pytest.param(["2025-12"], "1560.00", id="the month after death"),
        pytest.param(["2025-12", "2026-01", "2026-02"], "4680.00", id="sum of every late month"),
        pytest.param(["2025-10", "2025-11"], None, id="silent: month of death and before"),
    ],
)
def test_posthumous(months: list[str], amount: str | None) -> None:
    s = arrive(state(enrollment()), psb_death("2025-11-02"), *(payment(m) for m in months))
    findings = [f for f in evaluate(s, CTX) if f.type == POSTHUMOUS]
    assert [str(f.amount_at_risk) for f in findings] == ([amount] if amount else [])


def test_posthumous_found_when_the_death_arrives_years_late() -> None:
    s = arrive(
        state(enrollment()), payment("2026-01"), payment("2026-02"), health_death("2025-11-02")
    )
    (finding,) = [f for f in evaluate(s, CTX) if f.type == POSTHUMOUS]
    assert finding.amount_at_risk == Decimal("3120.00")
    assert finding.confidence == "unverified"


@pytest.mark.parametrize(
    ("records", "month", "fires"),
    [
        pytest.param([prison("admitted", "2026-01-10", "S1")], "2026-02", True, id="whole month"),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1")], "2026-01", False, id="silent: admitted in it"
        ),
        pytest.param(
            [prison("admitted", "2026-01-01", "S1")], "2026-01", False, id="silent: admitted on 1st"
        ),
        pytest.param(
            [prison("admitted", "2025-12-31", "S1")], "2026-01", True, id="admitted the day before"
        ),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1"), prison("released", "2026-03-15", "S2")],
            "2026-03",
            False,
            id="silent: released within the month",
        ),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1"), prison("released", "2026-03-31", "S2")],
            "2026-03",
            False,
            id="silent: released on its last day",
        ),
        pytest.param(
            [prison("admitted", "2026-01-10", "S1"), prison("released", "2026-04-01", "S2")],
            "2026-03",
            True,
            id="released the day after",
        ),
        pytest.param(
            [prison("released", "2026-03-15", "S2")], "2026-02", False, id="silent: only a release"
        ),
    ],
)
def test_paid_in_prison(records: list, month: str, fires: bool) -> None:  # type: ignore[type-arg]
    s = arrive(state(enrollment(), *records), payment(month))
    assert of_kind(evaluate(s, CTX), IN_PRISON) == ([IN_PRISON] if fires else [])


def test_paid_in_prison_sums_the_months() -> None:
    s = arrive(
        state(enrollment(), prison("admitted", "2026-01-10", "S1")),
        payment("2026-02"),
        payment("2026-03"),
        payment("2026-01"),
    )
    (finding,) = [f for f in evaluate(s, CTX) if f.type == IN_PRISON]
    assert finding.amount_at_risk == Decimal("3120.00")


@pytest.mark.parametrize(
    ("approved", "paid", "fires"),
    [
        pytest.param("1560.00", "1560.00", False, id="silent: equal"),
        pytest.param("1560.00", "1560.01", False, id="silent: within 0.01"),
        pytest.param("1560.00", "1560.02", True, id="over by 0.02"),
        pytest.param("980.00", "1080.00", True, id="the sample's 100 yuan"),
    ],
)
def test_amount_mismatch(approved: str, paid: str, fires: bool) -> None:
    s = arrive(state(enrollment(monthly_amount=Decimal(approved))), payment("2026-10", paid))
    expected = ["PAYMENT_AMOUNT_MISMATCH"] if fires else []
    assert of_kind(evaluate(s, CTX), "PAYMENT_AMOUNT_MISMATCH") == expected


def test_amount_mismatch_is_one_alert_per_month() -> None:
    s = arrive(state(enrollment()), payment("2026-09", "1000.00"), payment("2026-10", "1000.00"))
    keys = [f.key for f in evaluate(s, CTX) if f.type == "PAYMENT_AMOUNT_MISMATCH"]
    assert sorted(k[-1] for k in keys) == ["2026-09", "2026-10"]


def test_member_payments_are_not_compared_with_the_member_amount() -> None:
    s = arrive(state(enrollment(role="member")), payment("2026-10", "500.00"))
    assert of_kind(evaluate(s, CTX), "PAYMENT_AMOUNT_MISMATCH", "PAYMENT_TO_INACTIVE") == []


@pytest.mark.parametrize(
    ("enrollments", "fires"),
    [
        pytest.param([enrollment(status="exited")], True, id="exited"),
        pytest.param([enrollment(status="suspended")], True, id="suspended"),
        pytest.param([], True, id="never enrolled"),
        pytest.param([enrollment(program="tekun", role="individual")], True, id="other program"),
        pytest.param([enrollment()], False, id="silent: active"),
    ],
)
def test_paid_while_inactive(enrollments: list, fires: bool) -> None:  # type: ignore[type-arg]
    s = arrive(state(*enrollments), payment("2026-10"), payment("2026-11"))
    findings = [f for f in evaluate(s, CTX) if f.type == "PAYMENT_TO_INACTIVE"]
    assert [str(f.amount_at_risk) for f in findings] == (["3120.00"] if fires else [])


def test_payments_are_judged_against_the_roster_when_they_arrived() -> None:
    paid_while_exited = arrive(state(enrollment(status="exited")), payment("2026-10"))
    later_reenrolled = replace(paid_while_exited, enrollments=(enrollment(),))
    assert of_kind(evaluate(later_reenrolled, CTX), "PAYMENT_TO_INACTIVE") == [
        "PAYMENT_TO_INACTIVE"
    ]
