"""A whole simulated city: background cases with the planted ones spread evenly among them."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simulate import cases_life, cases_means, cases_place, cases_time
from simulate.background import Background
from simulate.core import PAID_MONTHS, Sim
from simulate.writer import FEEDS, CityWriter
from welfare_watch.settings import Policy

Case = Callable[[Sim], None]

# One function per rule (1-19), each planting the people who must fire and the near-misses
# that must not. Rule 20 (CASE_OVERDUE) needs time to pass after detection: not plantable.
CASES: tuple[Case, ...] = (
    cases_life.deceased_beneficiaries,
    cases_life.deceased_members,
    cases_life.posthumous_payments,
    cases_life.incarcerated,
    cases_life.paid_in_prison,
    cases_place.moved_out,
    cases_place.moved_within_city,
    cases_place.duplicate_enrollments,
    cases_place.duplicate_households,
    cases_means.vehicle_owners,
    cases_means.property_owners,
    cases_means.legal_persons,
    cases_means.incomes,
    cases_means.staff_relatives,
    cases_time.orphans_age_out,
    cases_time.elderly_bands,
    cases_time.survival_checks,
    cases_time.amount_mismatches,
    cases_time.inactive_payments,
)
PEOPLE_PER_ROUND = 10_000  # one round of every planted case per this many people


@dataclass(frozen=True)
class CityStats:
    """What was written: people, enrollments, rows per feed, expected alerts per type."""

    people: int
    outsiders: int
    households: int
    enrollments: int
    records: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def expected_alerts(self) -> int:
        return sum(self.alerts.values())


def simulate_city(
    people: int,
    seed: int,
    out: Path,
    as_of: dt.date,
    policy: Policy,
    *,
    payment_months: int = PAID_MONTHS,
) -> CityStats:
    """Write a city of about `people` enrolled people into `out`; the same seed, the same bytes.

    Files: roster.csv, one `{feed}.csv` per department feed and expected_alerts.jsonl, the
    alerts the planted cases must raise (the background raises none) when loaded with
    WW_AS_OF=`as_of`, the roster before the payments. Paid enrollments are paid for the
    `payment_months` months before `as_of`'s (3 unless asked: a benchmark asks for 12).
    """
    if payment_months < PAID_MONTHS:
        raise ValueError(f"payment_months must be at least {PAID_MONTHS}")
    rng = random.Random(seed)
    rounds = max(1, people // PEOPLE_PER_ROUND)
    planted = [case for _ in range(rounds) for case in CASES]
    rng.shuffle(planted)
    with CityWriter(out) as writer:
        sim = Sim(rng, writer, policy, as_of, people, payment_months)
        background = Background(sim)
        for index, case in enumerate(planted, start=1):
            # Spread the planted cases evenly through the files.
            while sim.people < index * people // (len(planted) + 1):
                background.case()
            case(sim)
        while sim.people < people:
            background.case()
        return CityStats(
            people=sim.people,
            outsiders=sim.outsiders,
            households=sim.households,
            enrollments=sim.enrollments,
            records={feed: writer.rows[feed] for feed in FEEDS},
            alerts=dict(sorted(writer.alerts.items())),
        )
