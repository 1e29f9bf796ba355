"""Small builders for test states: one person, their enrollments and department facts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from stdnum.cn import ric

from streams.ledger import ledger_of
from streams.rules import Context, Finding
from streams.state import PersonState, with_fact
from welfare_watch.models import Enrollment, Fact, FactKind
from welfare_watch.settings import load_policy

PERSON = "210105195203140118"
TODAY = dt.date(2026, 11, 28)
RECEIVED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
POLICY = load_policy()
CTX = Context(POLICY, TODAY)


def enrollment(
    program: str = "dibao_urban",
    role: str = "head",
    status: str = "active",
    district: str = "210105",
    **extra: Any,
) -> Enrollment:
    household = "HH-1" if POLICY.programs[program].kind == "household" else ""
    fields: dict[str, Any] = {
        "person_id": PERSON,
        "name": "杨德福",
        "program": program,
        "household_id": household,
        "role": role,
        "district_code": district,
        "community": "华山社区",
        "caseworker_id": "cw-1",
        "monthly_amount": Decimal("1560.00") if role != "member" else Decimal("0"),
        "start_date": dt.date(2019, 3, 1),
        "status": status,
    }
    return Enrollment(**(fields | extra))


def fact(
    kind: FactKind, feed: str, record_id: str, date: str, name: str = "杨德福", **attrs: str
) -> Fact:
    return Fact(
        feed=feed,
        kind=kind,
        record_id=record_id,
        person_id=PERSON,
        name=name,
        event_date=dt.date.fromisoformat(date),
        attrs=attrs,
        received_at=RECEIVED,
        source="test",
    )


def psb_death(date: str = "2025-11-02", record_id: str = "GA1", status: str = "active") -> Fact:
    return fact("death", "psb_deaths", record_id, date, status=status, authoritative="true")


def health_death(date: str = "2025-11-02", record_id: str = "Y1") -> Fact:
    return fact("death", "health_deaths", record_id, date)


def cremation(date: str = "2025-11-05", record_id: str = "HH1") -> Fact:
    return fact("death", "cremations", record_id, date, date_is_upper_bound="true")


def prison(event: str, date: str, record_id: str) -> Fact:
    return fact("prison", "prison", record_id, date, event=event, prison="辽宁省沈阳监狱")


def move(to_region: str, date: str, record_id: str, from_region: str = "210105") -> Fact:
    return fact(
        "move",
        "hukou_moves",
        record_id,
        date,
        direction="out",
        from_region=from_region,
        to_region=to_region,
    )


def state(*items: Enrollment | Fact, person: str = PERSON) -> PersonState:
    enrollments = tuple(i for i in items if isinstance(i, Enrollment))
    facts = {i.identity: i for i in items if isinstance(i, Fact) and i.kind != "payment"}
    payments = ledger_of(i for i in items if isinstance(i, Fact) and i.kind == "payment")
    return PersonState(person, enrollments, facts, payments=payments)


def born(date: str, district: str = "210105") -> str:
    """A valid ID number of someone born on this date."""
    body = f"{district}{date.replace('-', '')}123"
    return body + ric.calc_check_digit(body + "0")


def payment(
    month: str, amount: str = "1560.00", program: str = "dibao_urban", record_id: str = ""
) -> Fact:
    """A payment as stored: judged against the roster it arrived to (use `judged`)."""
    return fact(
        "payment", "payments", record_id or f"P{month}{program}{amount}", f"{month}-01",
        program=program, amount=amount, paid_date=f"{month}-10", batch_id="B1",
    )  # fmt: skip


def arrive(s: PersonState, *facts: Fact) -> PersonState:
    """Facts arriving one by one, as the worker applies them (payments are judged then)."""
    for f in facts:
        s = with_fact(s, f)
    return s


def of_kind(findings: list[Finding], *types: str) -> list[str]:
    """The types of the findings that would open alerts, among `types`."""
    return sorted(f.type for f in findings if f.type in types and f.suppressed_by is None)
