"""Rules 15, 16 and 17 as tables, today being 2026-11-28."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.rules import evaluate
from tests.factories import CTX, born, enrollment, fact, of_kind, psb_death, state
from welfare_watch.models import Fact


def child(birth: str, program: str = "orphan", status: str = "active") -> list[str]:
    pid = born(birth)
    s = state(
        enrollment(program=program, role="individual", person_id=pid, status=status), person=pid
    )
    return of_kind(evaluate(s, CTX), "ORPHAN_AGE_OUT")


@pytest.mark.parametrize(
    ("birth", "program", "fires"),
    [
        pytest.param("2008-12-20", "orphan", True, id="18 in 22 days"),
        pytest.param("2008-12-28", "orphan", True, id="18 in exactly 30 days"),
        pytest.param("2008-12-29", "orphan", False, id="silent: 31 days away"),
        pytest.param("2008-04-12", "orphan", True, id="already 18 (the sample)"),
        pytest.param("2008-12-20", "unsupported_child", True, id="unsupported child"),
        pytest.param("2015-01-01", "orphan", False, id="silent: a young child"),
    ],
)
def test_age_out(birth: str, program: str, fires: bool) -> None:
    assert child(birth, program) == (["ORPHAN_AGE_OUT"] if fires else [])


def test_age_out_silent_when_not_active() -> None:
    assert child("2008-12-20", status="exited") == []


def elderly(birth: str) -> list[tuple[str, ...]]:
    pid = born(birth)
    s = state(enrollment(program="elderly_allowance", role="individual", person_id=pid), person=pid)
    return [f.key for f in evaluate(s, CTX) if f.type == "ELDERLY_BAND_CHANGE"]


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        pytest.param("1936-12-10", "90", id="90 in 12 days"),
        pytest.param("1926-12-28", "100", id="100 in 30 days"),
        pytest.param("1936-11-28", "90", id="90 today"),
        pytest.param("1936-08-15", None, id="silent: 90 passed in August (the sample)"),
        pytest.param("1936-12-29", None, id="silent: 31 days away"),
        pytest.param("1940-12-10", None, id="silent: turns 86"),
    ],
)
def test_elderly_band(birth: str, band: str | None) -> None:
    pid = born(birth)
    assert elderly(birth) == ([("ELDERLY_BAND_CHANGE", pid, band)] if band else [])


def check(date: str) -> Fact:
    return fact("survival_check", "survival_checks", f"S{date}", date, method="face")


@pytest.mark.parametrize(
    ("program", "start", "checks", "fires"),
    [
        pytest.param("elderly_allowance", "2016-08-01", [check("2026-05-20")], True, id="sample"),
        pytest.param("tekun", "2021-07-01", [], True, id="never checked"),
        pytest.param("tekun", "2026-09-15", [], False, id="silent: enrolled 74 days ago"),
        pytest.param("tekun", "2020-01-01", [check("2026-08-30")], False, id="silent: 90 days ago"),
        pytest.param("tekun", "2020-01-01", [check("2026-08-29")], True, id="91 days ago"),
        pytest.param(
            "tekun",
            "2020-01-01",
            [check("2026-01-01"), check("2026-10-01")],
            False,
            id="silent: latest",
        ),
        pytest.param("orphan", "2020-01-01", [], False, id="silent: no checks required"),
    ],
)
def test_survival_check(program: str, start: str, checks: list[Fact], fires: bool) -> None:
    e = enrollment(program=program, role="individual", start_date=dt.date.fromisoformat(start))
    expected = ["SURVIVAL_CHECK_OVERDUE"] if fires else []
    assert of_kind(evaluate(state(e, *checks), CTX), "SURVIVAL_CHECK_OVERDUE") == expected


def test_death_outranks_time_based_rules() -> None:
    e = enrollment(program="tekun", role="individual", start_date=dt.date(2020, 1, 1))
    findings = evaluate(state(e, psb_death()), CTX)
    assert of_kind(findings, "SURVIVAL_CHECK_OVERDUE") == []
    assert [f.suppressed_by for f in findings if f.type == "SURVIVAL_CHECK_OVERDUE"] == ["death"]
