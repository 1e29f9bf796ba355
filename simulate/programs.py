"""Enrollments as a caseworker records them: ages, amounts and start dates that fit each program."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from simulate.core import Enr, Sim
from simulate.people import Person, add_years, age_on, birth_aged, birthday, random_day

CHILD_PROGRAMS = ("orphan", "unsupported_child")
ELDERLY = "elderly_allowance"
ELDERLY_AGES = (81, 99)
EARLIEST_START = dt.date(2012, 1, 1)
LATEST_START_DAYS = 200  # background cases began at least this long ago
# Adult ages by program for heads and individuals.
ADULT_AGES = {"dibao_urban": (25, 78), "dibao_rural": (25, 78), "tekun": (30, 79)}
DEFAULT_ADULT_AGES = (18, 75)
_FLAT_AMOUNTS = {
    "orphan": ("1800.00",),
    "unsupported_child": ("1500.00", "1600.00"),
    "disability_living": ("80.00", "100.00"),
    "disability_care": ("100.00", "120.00"),
}
_PER_PERSON = {"dibao_urban": (300, 900), "dibao_rural": (200, 600)}


def child_birth(sim: Sim) -> dt.date:
    """A child aged 1-17 whose 18th birthday is well beyond the age-out window."""
    limits = sim.policy.thresholds
    latest_18th = sim.as_of + dt.timedelta(days=limits.age_out_window_days + 30)
    first = add_years(latest_18th, -limits.age_out_years) + dt.timedelta(days=1)
    return random_day(sim.rng, first, add_years(sim.as_of, -1))


def elderly_birth(sim: Sim) -> dt.date:
    """Someone aged 81-99 with no band birthday (90, 100) anywhere near the window."""
    limits = sim.policy.thresholds
    near = (sim.days_ago(3), sim.as_of + dt.timedelta(days=limits.elderly_window_days + 3))
    while True:
        birth = birth_aged(sim.rng, sim.as_of, *ELDERLY_AGES)
        if not any(near[0] <= birthday(birth, band) <= near[1] for band in limits.elderly_bands):
            return birth


def birth_for(sim: Sim, program: str) -> dt.date:
    if program in CHILD_PROGRAMS:
        return child_birth(sim)
    if program == ELDERLY:
        return elderly_birth(sim)
    return birth_aged(sim.rng, sim.as_of, *ADULT_AGES.get(program, DEFAULT_ADULT_AGES))


def amount_for(sim: Sim, program: str, birth: dt.date, size: int = 1) -> Decimal:
    if program in _PER_PERSON:
        low, high = _PER_PERSON[program]
        return Decimal(size * sim.rng.randrange(low, high + 1, 10)).quantize(Decimal("0.01"))
    if program == "tekun":
        return Decimal(sim.rng.randrange(1100, 1510, 10)).quantize(Decimal("0.01"))
    if program == ELDERLY:
        return Decimal("200.00") if age_on(birth, sim.as_of) >= 90 else Decimal("100.00")
    return Decimal(sim.rng.choice(_FLAT_AMOUNTS.get(program, ("100.00",))))


def start_for(sim: Sim, program: str, birth: dt.date) -> dt.date:
    """A start date after the person became eligible and long enough ago to have been paid."""
    if program in CHILD_PROGRAMS:
        eligible = birth + dt.timedelta(days=30)
    elif program == ELDERLY:
        eligible = add_years(birth, 80)
    else:
        eligible = add_years(birth, 18)
    latest = sim.days_ago(LATEST_START_DAYS)
    return sim.between(min(max(EARLIEST_START, eligible), latest), latest)


def individual(
    sim: Sim,
    program: str,
    *,
    person: Person | None = None,
    birth: dt.date | None = None,
    status: str = "active",
    district: str | None = None,
    start: dt.date | None = None,
    amount: Decimal | None = None,
    pay: bool = True,
    checks: bool = True,
) -> Enr:
    """One person in an individual program, paid and checked as the background is."""
    district = district or sim.district()
    if person is None:
        person = sim.person(birth or birth_for(sim, program), sim.home(district))
    enr = sim.enroll(
        person,
        program,
        sim.office(district),
        amount=amount if amount is not None else amount_for(sim, program, person.birth),
        start=start or start_for(sim, program, person.birth),
        status=status,
    )
    if pay:
        sim.pay_normally(enr)
    if checks:
        sim.check_normally(enr)
    return enr


def member_birth(sim: Sim, head: dt.date) -> dt.date:
    """A spouse, a child or a parent of the head."""
    head_age = age_on(head, sim.as_of)
    draw = sim.rng.random()
    if draw < 0.45 or head_age < 22:
        return birth_aged(sim.rng, sim.as_of, max(18, head_age - 5), max(18, head_age + 5))
    if draw < 0.85:
        return birth_aged(sim.rng, sim.as_of, 1, min(17, head_age - 20))
    return birth_aged(sim.rng, sim.as_of, head_age + 20, min(99, head_age + 35))


def household(
    sim: Sim,
    program: str,
    size: int,
    *,
    status: str = "active",
    district: str | None = None,
    head: Person | None = None,
    members: Sequence[Person] = (),
    pay: bool = True,
) -> list[Enr]:
    """A household of `size` people (head first, then members), the head paid as usual."""
    district = district or sim.district()
    head = head or sim.person(birth_for(sim, program), sim.home(district))
    people = [head, *members]
    while len(people) < size:
        people.append(sim.person(member_birth(sim, head.birth), sim.home(district)))
    youngest = max(p.birth for p in people)
    start = start_for(sim, program, max(head.birth, add_years(youngest, -18)))
    household_id = sim.household_id(district)
    office = sim.office(district)
    amount = amount_for(sim, program, head.birth, len(people))
    enrs = [
        sim.enroll(
            person,
            program,
            office,
            amount=amount if role == "head" else Decimal("0.00"),
            start=start,
            status=status,
            household_id=household_id,
            role=role,
        )
        for person, role in zip(people, ["head"] + ["member"] * (len(people) - 1), strict=True)
    ]
    if pay:
        sim.pay_normally(enrs[0])
    return enrs


def holder(sim: Sim, program: str, *, pay: bool = True, checks: bool = True) -> Enr:
    """The paid enrollment of a new case: an individual, or the head of a small household."""
    if sim.policy.programs[program].kind == "household":
        return household(sim, program, sim.rng.randint(1, 3), pay=pay)[0]
    return individual(sim, program, pay=pay, checks=checks)
