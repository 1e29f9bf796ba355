"""The warning rules: one pure function from a person's state and a date to findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from streams.rules.finding import Context, Finding
from streams.rules.holdings import duplicate_enrollment, duplicate_household, staff_relative
from streams.rules.life import deceased, incarcerated
from streams.rules.means import income_over_threshold, legal_person, property_owner, vehicle_owner
from streams.rules.money import paid_in_prison, paid_while_inactive, posthumous, wrong_amount
from streams.rules.residence import moved
from streams.rules.timed import age_out, elderly_band, survival_check_overdue
from streams.state import PersonState

Rule = Callable[[PersonState, Context], Iterator[Finding]]

# Rules 1-19 (rules.md); rule 20 judges alerts, not people: alerts.escalation.
RULES: tuple[Rule, ...] = (
    deceased,  # 1, 2
    posthumous,  # 3
    incarcerated,  # 4
    paid_in_prison,  # 5
    moved,  # 6, 7
    duplicate_enrollment,  # 8
    duplicate_household,  # 9
    vehicle_owner,  # 10
    property_owner,  # 11
    legal_person,  # 12
    income_over_threshold,  # 13
    staff_relative,  # 14
    age_out,  # 15
    elderly_band,  # 16
    survival_check_overdue,  # 17
    wrong_amount,  # 18
    paid_while_inactive,  # 19
)


def evaluate(state: PersonState, ctx: Context) -> list[Finding]:
    """Every finding for this person today, including ones outranked by death or prison."""
    return [finding for rule in RULES for finding in rule(state, ctx)]


__all__ = ["Context", "Finding", "evaluate"]
