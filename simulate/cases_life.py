"""Planted cases for rules 1-5: deaths, posthumous payments, prison, payments while in prison."""

from __future__ import annotations

import datetime as dt

from simulate.core import Sim
from simulate.people import add_months
from simulate.plant import PSB, dies, expect_death, total, wholly_inside
from simulate.programs import holder, household, individual
from simulate.records import DEATH_FEEDS, death, health_death, prison, psb_death


def deceased_beneficiaries(sim: Sim) -> None:
    """1 DECEASED_BENEFICIARY: each death feed alone and together; revoked deaths are silent."""
    month = sim.paid_months[1]
    for program, feeds in (
        ("dibao_urban", PSB),  # psb alone: confirmed
        ("disability_living", ("health_deaths",)),  # unverified
        ("disability_care", ("cremations",)),  # unverified, the date only bounded
        ("orphan", ("health_deaths", "cremations")),  # two feeds: confirmed
        ("dibao_rural", DEATH_FEEDS),  # all three: one alert, three evidence feeds
    ):
        dies(sim, holder(sim, program, pay=False, checks=False), month, feeds)
    # Revoked (撤销, same 业务流水号) and nothing else: alive, paid and checked as usual.
    alive = holder(sim, "tekun")
    died = sim.day_in(month)
    serial = psb_death(sim, alive.person, died)
    psb_death(sim, alive.person, died, status="撤销", serial=serial)
    # Revoked, but a medical certificate remains: unverified on that alone.
    enr = holder(sim, "disability_living", pay=False)
    serial = psb_death(sim, enr.person, died)
    health_death(sim, enr.person, died)
    psb_death(sim, enr.person, died, status="撤销", serial=serial)
    sim.pay_normally(enr, through=month)
    expect_death(sim, enr, ("health_deaths",))
    # Silent: the enrollment had already ended.
    gone = individual(sim, "disability_care", status="exited")
    death(sim, gone.person, sim.day_in(month), PSB)


def deceased_members(sim: Sim) -> None:
    """2 DECEASED_HOUSEHOLD_MEMBER; silent when the household's enrollment ended."""
    month = sim.paid_months[1]
    for program, feeds in (
        ("dibao_urban", PSB),
        ("dibao_rural", ("health_deaths",)),
        ("dibao_urban", ("health_deaths", "cremations")),
    ):
        members = household(sim, program, sim.rng.randint(2, 4))[1:]
        dies(sim, sim.rng.choice(members), month, feeds)
    _, ended = household(sim, "dibao_rural", 2, status="exited")
    death(sim, ended.person, sim.day_in(month), PSB)


def posthumous_payments(sim: Sim) -> None:
    """3 POSTHUMOUS_PAYMENT: payments for months after the month of death, summed."""
    # Died in the first paid month: the two later months are posthumous.
    enr = holder(sim, "dibao_urban", pay=False)
    death_month = sim.paid_months[0]
    dies(sim, enr, death_month)
    for month in sim.paid_months[1:]:
        sim.pay(enr, month)
    sim.expect("POSTHUMOUS_PAYMENT", enr.person, enr.program, amount_at_risk=total(enr.amount, 2))
    # Died a year ago, three sources, paid every month since.
    death_month = add_months(sim.this_month, -12)
    start = sim.between(dt.date(2014, 1, 1), add_months(death_month, -6))
    enr = individual(sim, "disability_living", start=start, pay=False)
    dies(sim, enr, death_month, DEATH_FEEDS)
    months = [add_months(death_month, n) for n in range(1, 12)]
    for month in months:
        sim.pay(enr, month)
    amount = total(enr.amount, len(months))
    sim.expect("POSTHUMOUS_PAYMENT", enr.person, enr.program, amount_at_risk=amount)
    # Silent: every payment is for the month of death or earlier (rule 1 still fires).
    dies(sim, holder(sim, "disability_care", pay=False), sim.paid_months[-1])


def incarcerated(sim: Sim) -> None:
    """4 INCARCERATED_BENEFICIARY: admitted with no later release; silent after a release."""
    # Admitted in the last paid month: that payment is for the admission month (no rule 5).
    enr = holder(sim, "disability_care")
    prison(sim, enr.person, "入监", sim.day_in(sim.paid_months[-1]))
    sim.expect("INCARCERATED_BENEFICIARY", enr.person, enr.program)
    # A life sentence begun long ago; the payments stopped.
    admitted = sim.day_in(add_months(sim.this_month, -20))
    start = sim.between(dt.date(2013, 1, 1), add_months(admitted, -6))
    enr = individual(sim, "disability_living", start=start, pay=False)
    prison(sim, enr.person, "入监", admitted, "无期")
    sim.expect("INCARCERATED_BENEFICIARY", enr.person, enr.program)
    # Silent: the only record is a release.
    enr = holder(sim, "disability_living")
    prison(sim, enr.person, "出监", sim.between(dt.date(2022, 1, 1), dt.date(2024, 12, 31)))
    # Silent: admitted, later released, paid after the release.
    enr = holder(sim, "dibao_rural")
    admitted = sim.between(dt.date(2021, 1, 1), dt.date(2022, 12, 31))
    prison(sim, enr.person, "入监", admitted, admitted + dt.timedelta(days=700))
    prison(sim, enr.person, "出监", admitted + dt.timedelta(days=700))


def paid_in_prison(sim: Sim) -> None:
    """5 PAYMENT_DURING_INCARCERATION: months wholly in prison, summed; not the edge months."""
    first, last = sim.paid_months[0], sim.paid_months[-1]
    for program, admitted, released in (
        ("dibao_urban", sim.day_in(add_months(first, -1)), None),  # every paid month (and rule 4)
        ("disability_living", sim.day_in(first), sim.day_in(last)),  # only the middle month
        ("dibao_rural", sim.day_in(add_months(first, -3)), sim.day_in(last)),  # all but the last
        ("disability_care", sim.day_in(first), sim.day_in(add_months(first, 1))),  # silent
    ):
        enr = holder(sim, program, pay=False)
        prison(sim, enr.person, "入监", admitted)
        if released is not None:
            prison(sim, enr.person, "出监", released)
        else:
            sim.expect("INCARCERATED_BENEFICIARY", enr.person, enr.program)
        months = sim.pay_normally(enr)
        inside = [m for m in months if wholly_inside(m, admitted, released)]
        if inside:
            amount = total(enr.amount, len(inside))
            sim.expect("PAYMENT_DURING_INCARCERATION", enr.person, program, amount_at_risk=amount)
