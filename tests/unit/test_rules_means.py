"""Rules 10 to 13 as tables: vehicles, property, companies, income; death outranks them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.rules import evaluate
from streams.state import PersonState
from tests.factories import CTX, PERSON, enrollment, fact, of_kind, psb_death, state
from welfare_watch.models import Enrollment, Fact

CAR = "VEHICLE_OWNER"


def vehicle(
    kind: str, status: str = "registered", plate: str = "辽A1", date: str = "2026-04-18"
) -> Fact:
    return fact(
        "vehicle",
        "vehicles",
        f"V{plate}{status}",
        date,
        plate=plate,
        vehicle_type=kind,
        status=status,
    )


def unit(
    use: str, use_class: str, unit_id: str, status: str = "registered", date: str = "2025-12-01"
) -> Fact:
    return fact(
        "property",
        "real_estate",
        f"U{unit_id}{status}",
        date,
        unit_id=unit_id,
        use=use,
        use_class=use_class,
        status=status,
    )


def company(
    status: str, role: str = "legal_representative", code: str = "91X", date: str = "2024-06-11"
) -> Fact:
    return fact(
        "company_role",
        "enterprises",
        f"C{code}{status}{role}",
        date,
        credit_code=code,
        company_name="某公司",
        role=role,
        company_status=status,
    )


@pytest.mark.parametrize(
    ("facts", "fires"),
    [
        pytest.param([vehicle("小型汽车")], True, id="a car"),
        pytest.param([vehicle("货车")], True, id="a lorry"),
        pytest.param([vehicle("摩托车")], False, id="silent: motorcycle"),
        pytest.param([vehicle("三轮汽车")], False, id="silent: three-wheeler"),
        pytest.param([vehicle("残疾人专用车")], False, id="silent: disability vehicle"),
        pytest.param(
            [vehicle("小型汽车", "deregistered")], False, id="silent: only a deregistration"
        ),
        pytest.param(
            [vehicle("小型汽车"), vehicle("小型汽车", "deregistered", date="2026-06-01")],
            False,
            id="silent: deregistered later",
        ),
        pytest.param([], False, id="silent: no vehicle"),
    ],
)
def test_vehicle(facts: list[Fact], fires: bool) -> None:
    assert of_kind(evaluate(state(enrollment(), *facts), CTX), CAR) == ([CAR] if fires else [])


@pytest.mark.parametrize(
    "program",
    [
        pytest.param("disability_care", id="not means-tested"),
        pytest.param("elderly_allowance", id="not means-tested either"),
    ],
)
def test_vehicle_silent_outside_means_tested_programs(program: str) -> None:
    s = state(enrollment(program=program, role="individual"), vehicle("小型汽车"))
    assert of_kind(evaluate(s, CTX), CAR) == []


@pytest.mark.parametrize(
    ("facts", "fires"),
    [
        pytest.param([unit("商业", "commercial", "1")], True, id="one shop"),
        pytest.param([unit("办公", "office", "1")], True, id="an office"),
        pytest.param([unit("工业", "industrial", "1")], True, id="industrial"),
        pytest.param(
            [unit("住宅", "residential", "1"), unit("住宅", "residential", "2")],
            True,
            id="two homes",
        ),
        pytest.param([unit("住宅", "residential", "1")], False, id="silent: one home"),
        pytest.param(
            [unit("车位", "parking", "1"), unit("车位", "parking", "2")],
            False,
            id="silent: parking",
        ),
        pytest.param(
            [
                unit("商业", "commercial", "1"),
                unit("商业", "commercial", "1", "deregistered", "2026-02-01"),
            ],
            False,
            id="silent: latest record is a deregistration",
        ),
        pytest.param(
            [unit("住宅", "residential", "1"), unit("住宅", "residential", "1", date="2026-01-01")],
            False,
            id="silent: one home registered twice",
        ),
    ],
)
def test_property(facts: list[Fact], fires: bool) -> None:
    expected = ["PROPERTY_OWNER"] if fires else []
    assert of_kind(evaluate(state(enrollment(), *facts), CTX), "PROPERTY_OWNER") == expected


@pytest.mark.parametrize(
    ("facts", "fires"),
    [
        pytest.param([company("operating")], True, id="legal representative"),
        pytest.param([company("operating", "shareholder")], True, id="shareholder"),
        pytest.param([company("cancelled")], False, id="silent: cancelled"),
        pytest.param([company("revoked")], False, id="silent: revoked"),
        pytest.param(
            [company("operating"), company("cancelled", date="2025-01-01")],
            False,
            id="silent: closed later",
        ),
    ],
)
def test_legal_person(facts: list[Fact], fires: bool) -> None:
    expected = ["LEGAL_PERSON"] if fires else []
    assert of_kind(evaluate(state(enrollment(), *facts), CTX), "LEGAL_PERSON") == expected


def test_death_outranks_means_rules_but_open_alerts_are_annotated_not_lost() -> None:
    findings = evaluate(state(enrollment(), vehicle("小型汽车"), psb_death()), CTX)
    (car,) = [f for f in findings if f.type == CAR]
    assert car.suppressed_by == "death"


def income(amount: str, month: str = "2026-09", person: str = PERSON) -> Fact:
    f = fact(
        "income",
        "income",
        f"I{person}{month}{amount}",
        f"{month}-01",
        employer="某公司",
        amount=amount,
    )
    return f.model_copy(update={"person_id": person})


MEMBER = "210105195506200229"


def household(
    head_income: list[Fact], member_income: list[Fact], member_status: str = "active"
) -> PersonState:
    member = state(
        enrollment(role="member", person_id=MEMBER, status=member_status),
        *member_income,
        person=MEMBER,
    )
    head = state(enrollment(), *head_income)
    return replace(head, co_members={"HH-1": (member,)})


@pytest.mark.parametrize(
    ("s", "fires"),
    [
        pytest.param(household([income("1500.00")], []), False, id="silent: 1500 over two people"),
        pytest.param(household([income("2100.00")], []), True, id="2100 over two people"),
        pytest.param(
            household([], [income("600.00", person=MEMBER)]), False, id="silent: the sample"
        ),
        pytest.param(household([income("2000.00")], []), False, id="silent: exactly the standard"),
        pytest.param(
            household([income("1500.00")], [], member_status="exited"), True, id="member left"
        ),
        pytest.param(
            household([income("3000.00", "2026-08"), income("800.00", "2026-09")], []),
            False,
            id="silent: latest month counts",
        ),
    ],
)
def test_income(s: PersonState, fires: bool) -> None:
    expected = ["INCOME_OVER_THRESHOLD"] if fires else []
    assert of_kind(evaluate(s, CTX), "INCOME_OVER_THRESHOLD") == expected


@pytest.mark.parametrize(
    ("program", "amount", "fires"),
    [
        pytest.param("tekun", "1000.01", True, id="tekun over"),
        pytest.param("tekun", "1000.00", False, id="silent: tekun at the standard"),
        pytest.param("dibao_rural", "800.01", True, id="rural standard is 800"),
        pytest.param("orphan", "5000.00", False, id="silent: no standard"),
    ],
)
def test_income_standards(program: str, amount: str, fires: bool) -> None:
    kind = CTX.policy.programs[program].kind
    e: Enrollment = enrollment(
        program=program, role="head" if kind == "household" else "individual"
    )
    expected = ["INCOME_OVER_THRESHOLD"] if fires else []
    assert of_kind(evaluate(state(e, income(amount)), CTX), "INCOME_OVER_THRESHOLD") == expected


def test_income_alert_is_the_heads_not_the_members() -> None:
    member = state(enrollment(role="member"), income("5000.00"))
    assert of_kind(evaluate(member, CTX), "INCOME_OVER_THRESHOLD") == []
