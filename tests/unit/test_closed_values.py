"""Closed lists in the configuration: a value outside one (a program code, a status word) is
bad input, rejected with the values it could have been."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from connectors.errors import BadRecord
from connectors.feedspec import load_feeds
from connectors.parse import Rejection, normalise, parse_feed, parse_message
from welfare_watch.errors import ConfigError
from welfare_watch.settings import load_policy

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
RECEIVED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
FEEDS = load_feeds()
PROGRAMS = sorted(load_policy().programs)
PAYMENT_HEADER = "身份证号,姓名,项目代码,发放月份,金额,发放日期,发放批次号"


def payment(program: str) -> dict[str, str]:
    values = f"210105195203140118,杨德福,{program},2025-11,1560.00,2025-11-10,FF-202511-01"
    return dict(zip(PAYMENT_HEADER.split(","), values.split(","), strict=True))


def unknown_program(code: str, programs: list[str], column: str = "项目代码") -> str:
    return f'{column} "{code}" is not a program; known: {", ".join(programs)}'


def test_a_program_code_that_does_not_exist_is_rejected_naming_the_known_ones(
    tmp_path: Path,
) -> None:
    good, bad = payment("dibao_urban"), payment("dibao_x")
    rows = [",".join(row.values()) for row in (good, bad)]
    path = tmp_path / "payments.csv"
    path.write_text("\n".join([PAYMENT_HEADER, *rows, ""]), encoding="utf-8")

    fact, rejection = parse_feed(FEEDS["payments"], path, RECEIVED)

    assert not isinstance(fact, Rejection)
    assert fact.attrs["program"] == "dibao_urban"  # the bad record does not stop the file
    assert isinstance(rejection, Rejection)
    assert (rejection.feed, rejection.line) == ("payments", 3)
    assert rejection.reason == unknown_program("dibao_x", PROGRAMS)
    assert rejection.reason.startswith(
        '项目代码 "dibao_x" is not a program; known: dibao_rural, dibao_urban, '
    )


def test_an_unknown_program_code_by_kafka_is_rejected_the_same_way() -> None:
    value = json.dumps(payment("DIBAO_URBAN"), ensure_ascii=False).encode()
    rejection = parse_message(FEEDS["payments"], value, RECEIVED)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == unknown_program("DIBAO_URBAN", PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_configured_program_code_is_accepted(program: str) -> None:
    assert normalise(FEEDS["payments"], payment(program), RECEIVED).attrs["program"] == program


def test_a_program_code_typed_in_full_width_letters_is_the_code() -> None:
    fact = normalise(FEEDS["payments"], payment("ｔｅｋｕｎ"), RECEIVED)
    assert fact.attrs["program"] == "tekun"


OVERRIDE = """
[programs.winter_heating]
name = "冬季取暖补贴"
kind = "household"

[feeds.county_payments]
department = "县 资金发放"
fact = "payment"

[feeds.county_payments.columns]
ID = { field = "person_id", type = "id" }
PROGRAM = { field = "program", type = "program" }
MONTH = { field = "event_date", type = "month" }
"""


def test_a_feed_added_by_configuration_checks_its_program_column(tmp_path: Path) -> None:
    override = tmp_path / "override.toml"
    override.write_text(OVERRIDE, encoding="utf-8")
    feeds = load_feeds(override)
    path = tmp_path / "county.csv"
    path.write_text(
        "ID,PROGRAM,MONTH\n"
        "210105195203140118,winter_heating,2025-11\n"
        "210105195203140118,dibao_x,2025-11\n",
        encoding="utf-8",
    )

    fact, rejection = parse_feed(feeds["county_payments"], path, RECEIVED)

    assert not isinstance(fact, Rejection)
    assert fact.attrs == {"program": "winter_heating"}
    assert isinstance(rejection, Rejection)
    known = sorted([*PROGRAMS, "winter_heating"])
    assert rejection.reason == unknown_program("dibao_x", known, column="PROGRAM")
    # A program added to the policy is known to the configured feeds as well.
    fact = normalise(feeds["payments"], payment("winter_heating"), RECEIVED)
    assert fact.attrs["program"] == "winter_heating"


def test_program_codes_come_from_the_policy_not_the_feed(tmp_path: Path) -> None:
    override = tmp_path / "bad.toml"
    override.write_text(
        '[feeds.payments.columns]\nID = { field = "person_id", type = "id" }\n'
        'P = { field = "program", type = "program", codes = ["mine"] }\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"^bad configuration key 'feeds\.payments\.columns\.P' "):
        load_feeds(override)


# Fields the rules compare with fixed values: each comes from a closed list.
CLOSED_FIELDS = frozenset(
    {"status", "event", "direction", "role", "company_status", "method", "use_class", "program"}
)
CLOSED = [
    (feed, column, spec.field, spec.type, spec.otherwise)
    for feed, feed_spec in sorted(FEEDS.items())
    for column, specs in feed_spec.columns.items()
    for spec in specs
    if spec.field in CLOSED_FIELDS
]


def test_every_field_the_rules_compare_is_a_closed_list_in_every_feed() -> None:
    assert {field for _, _, field, _, _ in CLOSED} == CLOSED_FIELDS
    assert [
        (feed, field) for feed, _, field, kind, _ in CLOSED if kind not in ("word", "program")
    ] == []


def sample_row(feed: str) -> dict[str, str]:
    with (SAMPLES / f"{feed}.csv").open(encoding="utf-8-sig") as handle:
        return next(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("feed", "column"),
    [(feed, column) for feed, column, _, _, otherwise in CLOSED if otherwise is None],
)
def test_a_value_outside_a_closed_list_is_rejected_in_every_feed(feed: str, column: str) -> None:
    spec = FEEDS[feed]
    row = sample_row(feed)
    normalise(spec, row, RECEIVED)  # the sample row itself is good
    with pytest.raises(BadRecord) as caught:
        normalise(spec, {**row, column: "未知值"}, RECEIVED)
    assert caught.value.reason.startswith(f"{column} ")
    assert "未知值" in caught.value.reason
