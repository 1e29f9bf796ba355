"""The simulated city: deterministic, readable by the connectors, and every rule planted."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from connectors.feedspec import load_feeds
from connectors.ids import birth_date, check_id
from connectors.parse import Rejection, parse_feed
from connectors.roster_file import parse_roster
from simulate import CityStats, simulate_city
from simulate.people import IdAllocator, age_on
from simulate.writer import EXPECTED_FILE, FEED_HEADERS, FEEDS, ROSTER_HEADER
from welfare_watch.models import Enrollment, Fact
from welfare_watch.settings import load_policy

POLICY = load_policy()
AS_OF = dt.date(2026, 11, 28)
RECEIVED = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
PEOPLE = 2000
RULE_TYPES = {
    "DECEASED_BENEFICIARY", "DECEASED_HOUSEHOLD_MEMBER", "POSTHUMOUS_PAYMENT",
    "INCARCERATED_BENEFICIARY", "PAYMENT_DURING_INCARCERATION", "HUKOU_MOVED_OUT",
    "HUKOU_MOVED_WITHIN_CITY", "DUPLICATE_ENROLLMENT", "DUPLICATE_HOUSEHOLD", "VEHICLE_OWNER",
    "PROPERTY_OWNER", "LEGAL_PERSON", "INCOME_OVER_THRESHOLD", "STAFF_RELATIVE", "ORPHAN_AGE_OUT",
    "ELDERLY_BAND_CHANGE", "SURVIVAL_CHECK_OVERDUE", "PAYMENT_AMOUNT_MISMATCH",
    "PAYMENT_TO_INACTIVE",
}  # fmt: skip
FILES = ["roster.csv", *(f"{feed}.csv" for feed in FEEDS), EXPECTED_FILE]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CityStats]:
    out = tmp_path_factory.mktemp("city")
    return out, simulate_city(PEOPLE, 7, out, AS_OF, POLICY)


@pytest.fixture(scope="module")
def roster(city: tuple[Path, CityStats]) -> list[Enrollment]:
    rows = list(
        parse_roster(city[0] / "roster.csv", POLICY.programs, districts=POLICY.city.districts)
    )
    assert [r for r in rows if isinstance(r, Rejection)] == []
    return [r for r in rows if isinstance(r, Enrollment)]


@pytest.fixture(scope="module")
def expected(city: tuple[Path, CityStats]) -> list[dict[str, Any]]:
    with (city[0] / EXPECTED_FILE).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_same_seed_same_bytes_other_seed_other_city(
    city: tuple[Path, CityStats], tmp_path: Path
) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    simulate_city(PEOPLE, 7, again, AS_OF, POLICY)
    simulate_city(PEOPLE, 8, other, AS_OF, POLICY)
    for name in FILES:
        assert (again / name).read_bytes() == (city[0] / name).read_bytes(), name
    assert (other / "roster.csv").read_bytes() != (city[0] / "roster.csv").read_bytes()


def test_headers_are_the_configured_columns(city: tuple[Path, CityStats]) -> None:
    feeds = load_feeds()
    assert set(FEED_HEADERS) == set(feeds)
    for feed, header in FEED_HEADERS.items():
        assert header == tuple(feeds[feed].columns), feed
        first_line = (city[0] / f"{feed}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert first_line == ",".join(header)
    roster_header = (city[0] / "roster.csv").read_text(encoding="utf-8").splitlines()[0]
    sample = Path(__file__).parents[1] / "data" / "samples" / "roster.csv"
    assert roster_header == ",".join(ROSTER_HEADER) == sample.read_text().splitlines()[0]


@pytest.mark.parametrize("feed", FEEDS)
def test_every_record_parses(city: tuple[Path, CityStats], feed: str) -> None:
    items = list(parse_feed(load_feeds()[feed], city[0] / f"{feed}.csv", RECEIVED))
    assert [i.reason for i in items if isinstance(i, Rejection)] == []
    facts = [i for i in items if isinstance(i, Fact)]
    assert facts, f"{feed} is empty"
    # No two different rows collapse into one record (the same record twice counts once).
    revocations = sum(f.revokes for f in facts)
    assert len({f.identity for f in facts}) == len(facts) or revocations


def test_department_date_forms_vary(city: tuple[Path, CityStats]) -> None:
    text = (city[0] / "payments.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    paid = [r["发放日期"] for r in rows]
    forms = Counter("slash" if "/" in d else "dash" if "-" in d else "compact" for d in paid)
    assert forms["dash"] > forms["slash"] > 0 and forms["compact"] > 0


def test_every_rule_is_planted(expected: list[dict[str, Any]]) -> None:
    assert {line["type"] for line in expected} == RULE_TYPES
    keys = [json.dumps(line, sort_keys=True) for line in expected]
    assert len(keys) == len(set(keys))


def test_expected_lines_carry_their_rules_fields(
    expected: list[dict[str, Any]], roster: list[Enrollment]
) -> None:
    programs = defaultdict(set)
    for e in roster:
        programs[e.person_id].add(e.program)
    for line in expected:
        kind = line["type"]
        assert ("program" in line) == (kind not in ("DUPLICATE_ENROLLMENT", "DUPLICATE_HOUSEHOLD"))
        if "program" in line:
            assert line["program"] in programs[line["person_id"]], line
        if kind.startswith("DECEASED"):
            assert line["confidence"] in ("confirmed", "unverified")
            assert line["evidence_feeds"] == sorted(line["evidence_feeds"])
        if kind in ("POSTHUMOUS_PAYMENT", "PAYMENT_DURING_INCARCERATION", "PAYMENT_TO_INACTIVE"):
            assert float(line["amount_at_risk"]) > 0 and line["amount_at_risk"].count(".") == 1
        if kind == "ELDERLY_BAND_CHANGE":
            assert line["band"] in POLICY.thresholds.elderly_bands
        if kind == "STAFF_RELATIVE":
            assert line["queue"].startswith("supervisor of 2101")
        if kind == "PAYMENT_AMOUNT_MISMATCH":
            assert dt.date.fromisoformat(line["month"] + "-01") < AS_OF


def test_ids_are_valid_and_one_person_each(roster: list[Enrollment]) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for e in roster:
        assert check_id(e.person_id, today=AS_OF) == e.person_id
        assert e.person_id[:6] in POLICY.city.districts
        names[e.person_id].add(e.name)
    assert all(len(n) == 1 for n in names.values())
    keys = [e.key for e in roster]
    assert len(keys) == len(set(keys))


def test_allocator_never_repeats_a_number() -> None:
    allocator = IdAllocator(["210105", "210106"], AS_OF)
    birth = dt.date(1950, 3, 14)
    numbers = [allocator.allocate("210105", birth, male) for male in (True, False) * 499]
    assert None not in numbers and len(set(numbers)) == len(numbers)
    assert allocator.allocate("210105", birth, True) is None
    assert allocator.allocate("210106", birth, True) is not None


def test_households_have_one_head(roster: list[Enrollment]) -> None:
    households: dict[str, list[Enrollment]] = defaultdict(list)
    for e in roster:
        kind = POLICY.programs[e.program].kind
        assert bool(e.household_id) == (kind == "household")
        if e.household_id:
            households[e.household_id].append(e)
    assert households
    for rows in households.values():
        assert [e.role for e in rows].count("head") == 1
        assert 1 <= len(rows) <= 5
        assert len({(e.program, e.district_code, e.status, e.start_date) for e in rows}) == 1
        assert all(e.monthly_amount == 0 for e in rows if e.role == "member")
        assert all(e.household_id.startswith(f"HH-{e.district_code}-") for e in rows)


def test_ages_fit_the_programs(roster: list[Enrollment]) -> None:
    for e in roster:
        age = age_on(birth_date(e.person_id), AS_OF)
        assert e.start_date < AS_OF
        if e.program in ("orphan", "unsupported_child"):
            assert 1 <= age <= 18, e
        elif e.program == "elderly_allowance":
            assert 80 <= age <= 99, e
        elif e.role == "member":
            assert 1 <= age <= 99, e
        else:
            assert 18 <= age <= 99, e


def test_stats_match_the_files(
    city: tuple[Path, CityStats], roster: list[Enrollment], expected: list[dict[str, Any]]
) -> None:
    out, stats = city
    assert stats.enrollments == len(roster)
    assert stats.people == len({e.person_id for e in roster})
    assert abs(stats.people - PEOPLE) <= 5
    assert stats.households == len({e.household_id for e in roster if e.household_id})
    for feed in FEEDS:
        lines = (out / f"{feed}.csv").read_text(encoding="utf-8").count("\n")
        assert stats.records[feed] == lines - 1, feed
    assert stats.alerts == dict(Counter(line["type"] for line in expected))
    assert stats.expected_alerts == len(expected)
