"""The benchmark's city: simulated once per size, seed and history, then kept for later runs.

Its files are loaded the way a bureau would back-load them: the roster first, then the
department feeds with what outranks first (deaths and prison before moves and assets: a move
alerted before the prison record arrives stays open, annotated, rules.md "Precedence"), then
the payments, then the daily scan.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simulate import simulate_city
from simulate.writer import EXPECTED_FILE
from welfare_watch.settings import Policy

FACT_FEEDS = (
    "psb_deaths", "health_deaths", "cremations", "prison", "hukou_moves", "vehicles",
    "real_estate", "enterprises", "income", "staff_relatives", "survival_checks",
)  # fmt: skip
PAYMENTS = "payments"
# Enrollments per simulated person (households' members and second programs): simulate is asked
# for people, the benchmark for enrollments.
ENROLLMENTS_PER_PERSON = 1.04
_STATS = "city.json"


@dataclass(frozen=True)
class City:
    folder: Path
    people: int
    enrollments: int
    payment_months: int
    records: dict[str, int] = field(default_factory=dict)  # rows per feed file
    expected_alerts: int = 0
    seconds: float = 0.0  # to simulate it (0: kept from an earlier run)

    @property
    def roster(self) -> Path:
        return self.folder / "roster.csv"

    @property
    def expected(self) -> Path:
        return self.folder / EXPECTED_FILE

    def feed_file(self, feed: str) -> Path:
        return self.folder / f"{feed}.csv"

    @property
    def facts(self) -> int:
        return sum(n for feed, n in self.records.items() if feed != PAYMENTS)


def build(
    root: Path, enrollments: int, seed: int, payment_months: int, as_of: dt.date, policy: Policy
) -> City:
    """The city of about `enrollments` enrollments: simulated into `root`, or the one already
    there for the same parameters and configuration."""
    people = max(1, math.ceil(enrollments / ENROLLMENTS_PER_PERSON))
    folder = root / f"city-{enrollments}-seed{seed}-{payment_months}m-{as_of}"
    params = {"people": people, "seed": seed, "payment_months": payment_months,
              "as_of": as_of.isoformat(), "policy": policy.model_dump(mode="json")}  # fmt: skip
    kept = _kept(folder, params)
    if kept is not None:
        return kept
    (folder / _STATS).unlink(missing_ok=True)  # a run cut short leaves no usable city
    started = time.monotonic()
    stats = simulate_city(people, seed, folder, as_of, policy, payment_months=payment_months)
    city = City(
        folder=folder,
        people=stats.people,
        enrollments=stats.enrollments,
        payment_months=payment_months,
        records=dict(stats.records),
        expected_alerts=stats.expected_alerts,
        seconds=time.monotonic() - started,
    )
    kept_stats = {k: v for k, v in asdict(city).items() if k not in ("folder", "seconds")}
    (folder / _STATS).write_text(json.dumps({"params": params, "city": kept_stats}))
    return city


def _kept(folder: Path, params: dict[str, object]) -> City | None:
    try:
        stored = json.loads((folder / _STATS).read_text())
    except (OSError, ValueError):
        return None
    if stored.get("params") != params:
        return None
    return City(folder=folder, **stored["city"])


@dataclass(frozen=True)
class Enrolled:
    """A roster row the latency phase may plant an event on (never logged: it names a person)."""

    person_id: str
    name: str


def quiet_individuals(city: City) -> Iterator[Enrolled]:
    """People with exactly one roster row, an active individual enrollment, and no expected
    alert: a death record for one of them raises exactly one alert (DECEASED_BENEFICIARY)."""
    alerted = set()
    with city.expected.open(encoding="utf-8") as handle:
        for line in handle:
            alerted.add(json.loads(line)["person_id"])
    first: dict[str, tuple[str, bool]] = {}  # person -> (name, an active individual)
    repeated: set[str] = set()
    with city.roster.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person_id = row["person_id"]
            if person_id in first:
                repeated.add(person_id)
            else:
                eligible = row["role"] == "individual" and row["status"] == "active"
                first[person_id] = (row["name"], eligible)
    for person_id, (name, eligible) in first.items():
        if eligible and person_id not in repeated and person_id not in alerted:
            yield Enrolled(person_id, name)
