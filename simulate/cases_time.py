"""Planted cases for rules 15-19: age bands, survival checks, payment amounts and recipients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from simulate.core import Sim
from simulate.people import birthday, born_to_turn
from simulate.plant import dies, total
from simulate.programs import ELDERLY, holder, household, individual

ZERO = Decimal(0)


def orphans_age_out(sim: Sim) -> None:
    """15 ORPHAN_AGE_OUT: the 18th birthday within the window or already past; silent after."""
    limits = sim.policy.thresholds
    years, window = limits.age_out_years, limits.age_out_window_days
    for offset, program, status in (
        (10, "orphan", "active"),
        (0, "orphan", "active"),  # today
        (-45, "orphan", "active"),  # already 18, still enrolled
        (20, "unsupported_child", "active"),
        (window, "orphan", "active"),  # the last day of the window
        (window + 1, "orphan", "active"),  # silent: one day beyond it
        (window + 90, "unsupported_child", "active"),  # silent
        (-100, "orphan", "exited"),  # silent: no longer enrolled
    ):
        birth = born_to_turn(years, sim.as_of + dt.timedelta(days=offset))
        enr = individual(sim, program, birth=birth, status=status)
        if enr.active and birthday(birth, years) <= sim.as_of + dt.timedelta(days=window):
            sim.expect("ORPHAN_AGE_OUT", enr.person, enr.program)
    # Silent: turns 18 in five days, but died (rule 1 fires).
    birth = born_to_turn(years, sim.as_of + dt.timedelta(days=5))
    dies(sim, individual(sim, "orphan", birth=birth, pay=False), sim.paid_months[-1])


def elderly_bands(sim: Sim) -> None:
    """16 ELDERLY_BAND_CHANGE: a 90th or 100th birthday in [today, today + window]."""
    limits = sim.policy.thresholds
    window = limits.elderly_window_days
    low, high = min(limits.elderly_bands), max(limits.elderly_bands)
    for band, offset, status in (
        (low, 5, "active"),
        (high, 12, "active"),
        (low, 0, "active"),  # today
        (low, window, "active"),  # the last day of the window
        (low, -1, "active"),  # silent: yesterday
        (low, -95, "active"),  # silent: passed months ago
        (low, window + 1, "active"),  # silent
        (high, window + 15, "active"),  # silent
        (low, 10, "exited"),  # silent: no longer enrolled
    ):
        birth = born_to_turn(band, sim.as_of + dt.timedelta(days=offset))
        enr = individual(sim, ELDERLY, birth=birth, status=status)
        day = birthday(birth, band)
        if enr.active and sim.as_of <= day <= sim.as_of + dt.timedelta(days=window):
            sim.expect("ELDERLY_BAND_CHANGE", enr.person, enr.program, band=band)
    # Silent: turns 90 in ten days, but died (rule 1 fires).
    birth = born_to_turn(low, sim.as_of + dt.timedelta(days=10))
    enr = individual(sim, ELDERLY, birth=birth, pay=False, checks=False)
    dies(sim, enr, sim.paid_months[-1])


def survival_checks(sim: Sim) -> None:
    """17 SURVIVAL_CHECK_OVERDUE: no check in the last 90 days, counting from the start."""
    days = sim.policy.thresholds.survival_check_days
    for program, ago in ((ELDERLY, (days + 30, days + 200)), ("tekun", (days + 3,)), (ELDERLY, ())):
        enr = individual(sim, program, checks=False)  # started long before the window
        for back in ago:
            sim.check(enr.person, sim.days_ago(back))
        sim.expect("SURVIVAL_CHECK_OVERDUE", enr.person, enr.program)
    # Silent: a check a few days inside the window; a new case not yet checked.
    enr = individual(sim, ELDERLY, checks=False)
    sim.check(enr.person, sim.days_ago(days - 3))
    individual(sim, "tekun", start=sim.days_ago(30), checks=False)
    # Silent: not active; not a program with checks.
    individual(sim, ELDERLY, status="suspended", checks=False)
    individual(sim, "disability_living", checks=False)
    # Silent: the last check was long before a death (rule 1 fires; death outranks 17).
    dies(sim, individual(sim, ELDERLY, pay=False, checks=False), sim.paid_months[0])


def amount_mismatches(sim: Sim) -> None:
    """18 PAYMENT_AMOUNT_MISMATCH: one alert per month paid more than 0.01 off the amount."""
    tolerance = sim.policy.thresholds.amount_tolerance
    first, middle, last = sim.paid_months[0], sim.paid_months[1], sim.paid_months[-1]
    for program, deltas in (
        ("dibao_urban", {last: Decimal(50)}),
        ("tekun", {middle: -2 * tolerance}),
        ("disability_living", {first: Decimal(50), last: Decimal(20)}),
        ("orphan", {middle: tolerance}),  # silent: within the tolerance
    ):
        enr = holder(sim, program, pay=False)
        for month in sim.paid_months:
            sim.pay(enr, month, enr.amount + deltas.get(month, ZERO))
            if abs(deltas.get(month, ZERO)) > tolerance:
                period = f"{month.year:04d}-{month.month:02d}"
                sim.expect("PAYMENT_AMOUNT_MISMATCH", enr.person, enr.program, month=period)
    # Silent: the same amount written without decimals.
    enr = holder(sim, "disability_care", pay=False)
    for month in sim.paid_months:
        sim.pay(enr, month, text=str(int(enr.amount)) if enr.amount == int(enr.amount) else "")


def inactive_payments(sim: Sim) -> None:
    """19 PAYMENT_TO_INACTIVE: paid for a program whose enrollment is suspended or exited."""
    suspended = individual(sim, "tekun", status="suspended")
    exited = household(sim, "dibao_urban", sim.rng.randint(1, 3), status="exited")[0]
    stopped = individual(sim, "disability_care", status="suspended")
    for enr, months in (
        (suspended, sim.paid_months[1:]),
        (exited, sim.paid_months[-1:]),
        (stopped, sim.paid_months),
    ):
        for month in months:
            sim.pay(enr, month)
        amount = total(enr.amount, len(months))
        sim.expect("PAYMENT_TO_INACTIVE", enr.person, enr.program, amount_at_risk=amount)
    # Silent: paid for the active one of two enrollments.
    child = individual(sim, "unsupported_child")
    individual(sim, "orphan", person=child.person, district=child.district, status="exited")
