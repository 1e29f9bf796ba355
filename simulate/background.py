"""The background city: households, individuals and outsiders whose records raise no alert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from simulate.core import Enr, Sim
from simulate.people import Person, add_months, age_on
from simulate.programs import birth_for, household, individual
from simulate.records import (
    DEATH_FEEDS,
    company,
    death,
    income,
    move,
    prison,
    relative,
    unit,
    vehicle,
)

# Share of cases (households count once) by program.
PROGRAM_WEIGHTS = {
    "dibao_urban": 30,
    "dibao_rural": 18,
    "tekun": 8,
    "orphan": 3,
    "unsupported_child": 3,
    "disability_living": 13,
    "disability_care": 11,
    "elderly_allowance": 14,
}
HOUSEHOLD_SIZES = {1: 30, 2: 30, 3: 22, 4: 12, 5: 6}
STATUS_WEIGHTS = {"active": 92, "suspended": 5, "exited": 3}
# Second enrollments that share no exclusive group with the first.
SECOND_PROGRAM = {"disability_living": "disability_care", "elderly_allowance": "disability_care"}
SECOND_SHARE = 0.06
FACT_SHARE = 0.05  # people with a department record that must stay silent
INCOME_SHARE = 0.2
OUTSIDER_SHARE = 0.04  # people known to departments but not enrolled, per case
CENTS = Decimal("0.01")


class Background:
    """Draws one background case at a time."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self._programs = [p for p in PROGRAM_WEIGHTS if p in sim.policy.programs]
        self._weights = [PROGRAM_WEIGHTS[p] for p in self._programs]

    def case(self) -> None:
        sim = self.sim
        rng = sim.rng
        program = rng.choices(self._programs, self._weights)[0]
        status = rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]
        if sim.policy.programs[program].kind == "household":
            size = rng.choices(list(HOUSEHOLD_SIZES), list(HOUSEHOLD_SIZES.values()))[0]
            enrs = household(sim, program, size, status=status)
        else:
            enrs = [individual(sim, program, status=status)]
        for enr in enrs:
            self._second(enr)
            if enr.active and rng.random() < INCOME_SHARE:
                self._income(enr)
            if rng.random() < FACT_SHARE:
                self._silent_fact(enr)
        if rng.random() < OUTSIDER_SHARE:
            self._outsider()

    def _second(self, enr: Enr) -> None:
        """Now and then a second, compatible enrollment for the same person."""
        sim = self.sim
        second = SECOND_PROGRAM.get(enr.program)
        if enr.household_id and age_on(enr.person.birth, sim.as_of) >= 18:
            second = "disability_living"
        if second and second in sim.policy.programs and sim.rng.random() < SECOND_SHARE:
            individual(sim, second, person=enr.person, district=enr.district)

    def _income(self, enr: Enr) -> None:
        """Income well under the standard (half of it at most) for people of a means test."""
        standard = self.sim.policy.programs[enr.program].income_standard
        if standard is None:
            return
        amount = (standard * Decimal(self.sim.rng.uniform(0.05, 0.5))).quantize(CENTS)
        months = self.sim.paid_months[: self.sim.rng.randint(1, 2)]
        for month in months:
            income(self.sim, enr.person, month, amount)

    def _silent_fact(self, enr: Enr) -> None:
        """A record that concerns this person but must not raise an alert."""
        sim = self.sim
        means_tested = sim.policy.programs[enr.program].means_tested
        choices = _SILENT_ANY if means_tested else _SILENT_ANY + _SILENT_UNTESTED
        sim.rng.choice(choices)(sim, enr.person, enr.district)

    def _outsider(self) -> None:
        """Someone the departments know who is not on the roster: anything goes."""
        sim = self.sim
        person = sim.person(birth_for(sim, "dibao_urban"), enrolled=False)
        for _ in range(sim.rng.randint(1, 2)):
            sim.rng.choice(_OUTSIDER)(sim, person, sim.district())


def _past(sim: Sim) -> dt.date:
    return sim.between(dt.date(2014, 1, 1), add_months(sim.paid_months[0], -1))


Silent = Callable[[Sim, Person, str], None]


def _exempt_vehicle(sim: Sim, person: Person, district: str) -> None:
    vehicle(sim, person, sim.rng.choice(sim.policy.thresholds.exempt_vehicle_types), _past(sim))


def _sold_car(sim: Sim, person: Person, district: str) -> None:
    bought = sim.between(dt.date(2010, 1, 1), dt.date(2018, 12, 31))
    plate = vehicle(sim, person, "小型汽车", bought)
    vehicle(
        sim,
        person,
        "小型汽车",
        bought + dt.timedelta(days=sim.rng.randint(400, 2000)),
        "注销",
        plate,
    )


def _home(sim: Sim, person: Person, district: str) -> None:
    unit(sim, person, "住宅", _past(sim))
    if sim.rng.random() < 0.3:
        unit(sim, person, "车位", _past(sim))


def _closed_company(sim: Sim, person: Person, district: str) -> None:
    role = sim.rng.choice(("法定代表人", "股东"))
    company(sim, person, role, sim.rng.choice(("注销", "吊销")), _past(sim))


def _local_move(sim: Sim, person: Person, district: str) -> None:
    move(sim, person, district, district, _past(sim), ("迁出", "迁入"))


def _old_release(sim: Sim, person: Person, district: str) -> None:
    prison(sim, person, "出监", sim.between(dt.date(2015, 1, 1), dt.date(2023, 12, 31)))


def _car(sim: Sim, person: Person, district: str) -> None:
    vehicle(sim, person, sim.rng.choice(("小型汽车", "货车")), _past(sim))


def _shop(sim: Sim, person: Person, district: str) -> None:
    unit(sim, person, sim.rng.choice(sim.policy.thresholds.non_residential_uses), _past(sim))


def _open_company(sim: Sim, person: Person, district: str) -> None:
    company(sim, person, sim.rng.choice(("法定代表人", "股东")), "存续", _past(sim))


def _died(sim: Sim, person: Person, district: str) -> None:
    feeds = [f for f in DEATH_FEEDS if sim.rng.random() < 0.6] or ["health_deaths"]
    death(sim, person, sim.between(add_months(sim.this_month, -24), sim.days_ago(10)), feeds)


def _moved_away(sim: Sim, person: Person, district: str) -> None:
    move(sim, person, district, sim.rng.choice(sim.out_of_city), _past(sim))


def _jailed(sim: Sim, person: Person, district: str) -> None:
    prison(sim, person, "入监", _past(sim))


def _earns(sim: Sim, person: Person, district: str) -> None:
    income(sim, person, sim.paid_months[1], Decimal(sim.rng.randrange(2000, 9000, 10)))


def _staff_relative(sim: Sim, person: Person, district: str) -> None:
    relative(sim, person, district)


_SILENT_ANY: tuple[Silent, ...] = (
    _exempt_vehicle, _sold_car, _home, _closed_company, _local_move, _old_release,
)  # fmt: skip
_SILENT_UNTESTED: tuple[Silent, ...] = (_car, _shop, _open_company)
_OUTSIDER: tuple[Silent, ...] = (
    _died, _moved_away, _jailed, _car, _shop, _open_company, _earns, _staff_relative,
    _local_move, _exempt_vehicle,
)  # fmt: skip
