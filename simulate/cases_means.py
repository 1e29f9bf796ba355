"""Planted cases for rules 10-14: cars, property, companies, income, relatives of staff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from simulate.core import Enr, Sim
from simulate.people import add_months
from simulate.plant import dies
from simulate.programs import birth_for, holder, household, individual
from simulate.records import company, income, relative, unit, vehicle

CARS = ("小型汽车", "货车", "大型汽车")
CENTS = Decimal("0.01")


def _registered(sim: Sim) -> dt.date:
    return sim.between(dt.date(2015, 1, 1), add_months(sim.paid_months[0], -1))


def _dead(sim: Sim, program: str) -> Enr:
    """A case whose holder died (rule 1 fires): the living-only rules stay silent for them."""
    enr = holder(sim, program, pay=False, checks=False)
    dies(sim, enr, sim.paid_months[-1])
    return enr


def vehicle_owners(sim: Sim) -> None:
    """10 VEHICLE_OWNER: a registered non-exempt vehicle of a means-tested person."""
    for program, kind in zip(("dibao_urban", "tekun", "dibao_rural"), CARS, strict=True):
        enr = holder(sim, program)
        vehicle(sim, enr.person, kind, _registered(sim))
        sim.expect("VEHICLE_OWNER", enr.person, enr.program)
    # A household member's car counts for the member's own enrollment.
    member = household(sim, "dibao_rural", 2)[1]
    vehicle(sim, member.person, "小型汽车", _registered(sim))
    sim.expect("VEHICLE_OWNER", member.person, member.program)
    # Silent: exempt types, a plate whose latest record is 注销, a 注销 alone.
    for kind in sim.policy.thresholds.exempt_vehicle_types:
        vehicle(
            sim,
            holder(sim, sim.rng.choice(("dibao_urban", "tekun"))).person,
            kind,
            _registered(sim),
        )
    owner = holder(sim, "dibao_urban").person
    bought = sim.between(dt.date(2012, 1, 1), dt.date(2019, 12, 31))
    plate = vehicle(sim, owner, "小型汽车", bought)
    vehicle(sim, owner, "小型汽车", bought + dt.timedelta(days=1500), "注销", plate)
    vehicle(sim, holder(sim, "tekun").person, "小型汽车", _registered(sim), "注销")
    # Silent: not means-tested, enrollment ended, dead.
    vehicle(sim, holder(sim, "disability_care").person, "小型汽车", _registered(sim))
    ended = household(sim, "dibao_urban", 1, status="exited")[0]
    vehicle(sim, ended.person, "小型汽车", _registered(sim))
    vehicle(sim, _dead(sim, "dibao_urban").person, "小型汽车", _registered(sim))


def property_owners(sim: Sim) -> None:
    """11 PROPERTY_OWNER: a non-residential unit, or two residential ones."""
    for use in sim.policy.thresholds.non_residential_uses:
        enr = holder(sim, sim.rng.choice(("dibao_urban", "dibao_rural", "tekun")))
        unit(sim, enr.person, use, _registered(sim))
        sim.expect("PROPERTY_OWNER", enr.person, enr.program)
    enr = holder(sim, "dibao_urban")
    unit(sim, enr.person, "住宅", _registered(sim))
    unit(sim, enr.person, "住宅", _registered(sim))
    sim.expect("PROPERTY_OWNER", enr.person, enr.program)
    # Silent: one home; a home and parking spaces; a second home or a shop since cancelled.
    unit(sim, holder(sim, "tekun").person, "住宅", _registered(sim))
    owner = holder(sim, "dibao_rural").person
    for use in ("住宅", "车位", "车位"):
        unit(sim, owner, use, _registered(sim))
    owner = holder(sim, "dibao_urban").person
    unit(sim, owner, "住宅", _registered(sim))
    for use in ("住宅", "商业"):
        bought = sim.between(dt.date(2012, 1, 1), dt.date(2019, 12, 31))
        unit_id = unit(sim, owner, use, bought)
        unit(sim, owner, use, bought + dt.timedelta(days=900), "注销", unit_id)
    # Silent: dead.
    unit(sim, _dead(sim, "tekun").person, "商业", _registered(sim))


def legal_persons(sim: Sim) -> None:
    """12 LEGAL_PERSON: legal representative or shareholder of an operating (存续) company."""
    for role, program in (("法定代表人", "tekun"), ("股东", "dibao_urban")):
        enr = holder(sim, program)
        company(sim, enr.person, role, "存续", _registered(sim))
        sim.expect("LEGAL_PERSON", enr.person, enr.program)
    # Silent: the company is cancelled or revoked; the person is dead.
    company(sim, holder(sim, "dibao_rural").person, "法定代表人", "注销", _registered(sim))
    company(sim, holder(sim, "tekun").person, "股东", "吊销", _registered(sim))
    company(sim, _dead(sim, "dibao_urban").person, "法定代表人", "存续", _registered(sim))


def _standard(sim: Sim, program: str) -> Decimal:
    standard = sim.policy.programs[program].income_standard
    assert standard is not None, f"{program} has no income standard"
    return standard


def _earning(sim: Sim, program: str, shares: tuple[str, ...]) -> Enr:
    """A household (or tekun person) whose people earn these shares of the standard.

    "" is no income record; "rest" brings the household to exactly the standard. Returns the
    enrollment that carries the alert: the head's, or the tekun person's.
    """
    standard = _standard(sim, program)
    if sim.policy.programs[program].kind == "household":
        enrs = household(sim, program, len(shares))
    else:
        enrs = [individual(sim, program)]
    earned = Decimal(0)
    for enr, share in zip(enrs, shares, strict=True):
        if not share:
            continue
        if share == "rest":
            amount = standard * len(shares) - earned
        else:
            amount = (standard * Decimal(share)).quantize(CENTS)
        earned += amount
        income(sim, enr.person, sim.paid_months[1], amount)
    return enrs[0]


def incomes(sim: Sim) -> None:
    """13 INCOME_OVER_THRESHOLD: latest income per head of the household over the standard."""
    for program, shares in (
        ("dibao_urban", ("1.5", "0.7")),  # 1.1 x the standard per head
        ("dibao_rural", ("1.125", "1.125", "0.875")),  # 1.04 x
        ("tekun", ("1.2",)),
    ):
        enr = _earning(sim, program, shares)
        sim.expect("INCOME_OVER_THRESHOLD", enr.person, enr.program)
    # Over the standard in the latest month, under it in an earlier one.
    enr = _earning(sim, "tekun", ("1.3",))
    income(sim, enr.person, add_months(sim.paid_months[1], -4), _standard(sim, "tekun") / 2)
    sim.expect("INCOME_OVER_THRESHOLD", enr.person, enr.program)
    # Silent: exactly the standard; a member's small income; under it in the latest month
    # (written before the older, higher month, so file order is not what decides).
    _earning(sim, "dibao_urban", ("1.2", "rest"))
    _earning(sim, "tekun", ("1",))
    _earning(sim, "dibao_urban", ("", "0.6", ""))
    enr = _earning(sim, "tekun", ("0.8",))
    income(sim, enr.person, add_months(sim.paid_months[1], -4), _standard(sim, "tekun") * 3)
    # Silent: dead.
    alone = household(sim, "dibao_urban", 1, pay=False)[0]
    dies(sim, alone, sim.paid_months[-1])
    income(sim, alone.person, sim.paid_months[0], _standard(sim, "dibao_urban") * 2)


def staff_relatives(sim: Sim) -> None:
    """14 STAFF_RELATIVE: routed to the supervisor of the enrollment's district."""
    same = holder(sim, "dibao_urban")
    relative(sim, same.person, same.district)
    # Declared by staff of another district: still the enrollment's district supervisor.
    other = holder(sim, "disability_living")
    relative(sim, other.person, sim.district(other_than=other.district))
    member = household(sim, "dibao_rural", 2)[1]
    relative(sim, member.person, member.district)
    for enr in (same, other, member):
        queue = f"supervisor of {enr.district}"
        sim.expect("STAFF_RELATIVE", enr.person, enr.program, queue=queue)
    # Silent: the relative's only enrollment ended; a relative not on the roster.
    ended = individual(sim, "elderly_allowance", status="exited")
    relative(sim, ended.person, ended.district)
    outsider = sim.person(birth_for(sim, "dibao_urban"), enrolled=False)
    relative(sim, outsider, sim.district())
