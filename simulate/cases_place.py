"""Planted cases for rules 6-9: household registration moves, duplicate enrollments."""

from __future__ import annotations

import datetime as dt

from simulate.core import Enr, Sim
from simulate.people import add_months
from simulate.plant import dies
from simulate.programs import birth_for, holder, household, individual
from simulate.records import move, prison

BOTH_SIDES = ("迁出", "迁入")


def _recently(sim: Sim) -> dt.date:
    """A day in the last year, before the paid months."""
    return sim.between(add_months(sim.this_month, -12), add_months(sim.paid_months[0], -1))


def _outranked(sim: Sim, program: str, destination: str | None) -> None:
    """A dead person and a prisoner who moved: rules 1 and 4 fire, never 6 or 7."""
    enr = holder(sim, program, pay=False, checks=False)
    to = destination or sim.district(other_than=enr.district)
    move(sim, enr.person, enr.district, to, _recently(sim))
    dies(sim, enr, sim.paid_months[1])
    enr = holder(sim, program)
    to = destination or sim.district(other_than=enr.district)
    move(sim, enr.person, enr.district, to, _recently(sim))
    prison(sim, enr.person, "入监", sim.day_in(sim.paid_months[-1]))  # after the last payment
    sim.expect("INCARCERATED_BENEFICIARY", enr.person, enr.program)


def moved_out(sim: Sim) -> None:
    """6 HUKOU_MOVED_OUT: the latest move leaves the city; silent once back, dead or in prison."""
    away = sim.out_of_city
    for index, program in enumerate(("tekun", "dibao_urban", "disability_living")):
        enr = holder(sim, program)
        move(sim, enr.person, enr.district, away[index % len(away)], _recently(sim))
        sim.expect("HUKOU_MOVED_OUT", enr.person, enr.program)
    # Silent: moved away in an earlier year, then back into the district of the case.
    enr = holder(sim, "dibao_rural")
    elsewhere = sim.rng.choice(away)
    move(
        sim,
        enr.person,
        enr.district,
        elsewhere,
        sim.between(dt.date(2023, 1, 1), dt.date(2024, 12, 31)),
    )
    move(sim, enr.person, elsewhere, enr.district, _recently(sim), sides=("迁入",))
    _outranked(sim, "disability_care", sim.rng.choice(away))


def moved_within_city(sim: Sim) -> None:
    """7 HUKOU_MOVED_WITHIN_CITY: to another district; silent within the district or back."""
    for program, sides in (("disability_living", BOTH_SIDES), ("elderly_allowance", ("迁入",))):
        enr = holder(sim, program)
        move(
            sim,
            enr.person,
            enr.district,
            sim.district(other_than=enr.district),
            _recently(sim),
            sides,
        )
        sim.expect("HUKOU_MOVED_WITHIN_CITY", enr.person, enr.program)
    # A household member moves: the member's own enrollment is the one to transfer.
    member = household(sim, "dibao_rural", sim.rng.randint(2, 3))[1]
    to = sim.district(other_than=member.district)
    move(sim, member.person, member.district, to, _recently(sim), BOTH_SIDES)
    sim.expect("HUKOU_MOVED_WITHIN_CITY", member.person, member.program)
    # Silent: a move inside the district of the case.
    enr = holder(sim, "dibao_urban")
    move(sim, enr.person, enr.district, enr.district, _recently(sim), BOTH_SIDES)
    # Silent: moved to another district in an earlier year, then back.
    enr = holder(sim, "tekun")
    other = sim.district(other_than=enr.district)
    move(
        sim,
        enr.person,
        enr.district,
        other,
        sim.between(dt.date(2023, 1, 1), dt.date(2024, 12, 31)),
    )
    move(sim, enr.person, other, enr.district, _recently(sim), BOTH_SIDES)
    _outranked(sim, "disability_living", None)


def _adult(sim: Sim, district: str) -> Enr:
    return individual(sim, "tekun", district=district)


def duplicate_enrollments(sim: Sim) -> None:
    """8 DUPLICATE_ENROLLMENT: two programs of one exclusive group; silent otherwise."""
    district = sim.district()
    child = individual(sim, "orphan", district=district)
    individual(sim, "unsupported_child", person=child.person, district=district)
    sim.expect("DUPLICATE_ENROLLMENT", child.person, None)
    # 特困 and a dibao household, as a member and as the head of a household of one.
    tekun = _adult(sim, district)
    household(sim, "dibao_urban", 2, district=district, members=[tekun.person])
    sim.expect("DUPLICATE_ENROLLMENT", tekun.person, None)
    tekun = _adult(sim, district)
    household(sim, "dibao_rural", 1, district=district, head=tekun.person)
    sim.expect("DUPLICATE_ENROLLMENT", tekun.person, None)
    # Silent: the two disability allowances share no group.
    disabled = individual(sim, "disability_living", district=district)
    individual(sim, "disability_care", person=disabled.person, district=district)
    # Silent: the other enrollment of the group ended or is suspended.
    tekun = _adult(sim, district)
    household(sim, "dibao_urban", 2, district=district, members=[tekun.person], status="exited")
    child = individual(sim, "orphan", district=district)
    individual(sim, "unsupported_child", person=child.person, district=district, status="suspended")


def duplicate_households(sim: Sim) -> None:
    """9 DUPLICATE_HOUSEHOLD: one person in two active households (never rule 8 as well)."""
    district = sim.district()
    person = sim.person(birth_for(sim, "dibao_urban"), district)
    household(sim, "dibao_urban", 2, district=district, members=[person])
    household(sim, "dibao_urban", 3, district=sim.district(), members=[person])
    sim.expect("DUPLICATE_HOUSEHOLD", person, None)
    # The head of an urban household is also a member of a rural one: 9, not 8.
    head = household(sim, "dibao_urban", 2, district=district)[0].person
    household(sim, "dibao_rural", 2, district=district, members=[head])
    sim.expect("DUPLICATE_HOUSEHOLD", head, None)
    # Silent: the other household's enrollment ended.
    person = sim.person(birth_for(sim, "dibao_rural"), district)
    household(sim, "dibao_rural", 2, district=district, members=[person])
    household(sim, "dibao_rural", 2, district=district, members=[person], status="exited")
