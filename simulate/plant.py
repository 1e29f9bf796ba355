"""What the planted cases share: deaths, prison terms and the alerts they are expected to raise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from simulate.core import Enr, Sim
from simulate.people import add_months
from simulate.records import death

PSB = ("psb_deaths",)


def confidence(feeds: Sequence[str]) -> str:
    """rules.md: psb_deaths alone, or two different death feeds, confirm a death."""
    return "confirmed" if "psb_deaths" in feeds or len(set(feeds)) >= 2 else "unverified"


def expect_death(sim: Sim, enr: Enr, feeds: Sequence[str]) -> None:
    """Rule 1 for a head or individual, rule 2 for a household member."""
    type_ = "DECEASED_HOUSEHOLD_MEMBER" if enr.role == "member" else "DECEASED_BENEFICIARY"
    sim.expect(
        type_,
        enr.person,
        enr.program,
        confidence=confidence(feeds),
        evidence_feeds=sorted(set(feeds)),
    )


def dies(
    sim: Sim, enr: Enr, month: dt.date, feeds: Sequence[str] = PSB, *, expect: bool = True
) -> dt.date:
    """The holder of `enr` (enrolled unpaid and unchecked) dies in `month`.

    Paid up to and including the month of death; a program with survival checks gets a last
    check a few days before the death. Expects rule 1 or 2 when the enrollment is active.
    """
    died = sim.day_in(month)
    if sim.policy.programs[enr.program].survival_checks:
        sim.check(enr.person, died - dt.timedelta(days=sim.rng.randint(5, 15)))
    death(sim, enr.person, died, feeds)
    sim.pay_normally(enr, through=month)
    if expect and enr.active:
        expect_death(sim, enr, feeds)
    return died


def month_end(month: dt.date) -> dt.date:
    return add_months(month, 1) - dt.timedelta(days=1)


def wholly_inside(month: dt.date, admitted: dt.date, released: dt.date | None) -> bool:
    """Rule 5: admitted before the month began and not released before it ended."""
    return admitted < month and (released is None or released > month_end(month))


def total(amount: Decimal, count: int) -> str:
    return f"{amount * count:.2f}"
