"""Rules 6 and 7 as tables, with precedence: death and prison outrank moves."""

from __future__ import annotations

import pytest

from streams.rules import evaluate
from tests.factories import CTX, enrollment, move, prison, psb_death, state


def opened(items: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.type for f in evaluate(state(*items), CTX) if f.suppressed_by is None)


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        pytest.param(
            [move("211202", "2026-03-15", "M1")], ["HUKOU_MOVED_OUT"], id="out of the city"
        ),
        pytest.param(
            [move("210102", "2026-03-15", "M1")], ["HUKOU_MOVED_WITHIN_CITY"], id="another district"
        ),
        pytest.param([move("210105", "2026-03-15", "M1")], [], id="silent: same district"),
        pytest.param(
            [move("211202", "2026-03-15", "M1"), move("210105", "2026-05-01", "M2", "211202")],
            [],
            id="silent: a later move brought them back",
        ),
        pytest.param(
            [move("210105", "2026-05-01", "M2", "211202"), move("211202", "2026-03-15", "M1")],
            [],
            id="silent: the return arrived first",
        ),
        pytest.param(
            [move("210102", "2026-03-15", "M1"), move("110101", "2026-05-01", "M2", "210102")],
            ["HUKOU_MOVED_OUT"],
            id="latest move decides",
        ),
    ],
)
def test_moves(moves: list, expected: list) -> None:  # type: ignore[type-arg]
    assert opened([enrollment(), *moves]) == expected


def test_silent_without_active_enrollment() -> None:
    assert opened([enrollment(status="exited"), move("211202", "2026-03-15", "M1")]) == []


@pytest.mark.parametrize(
    ("other", "outranked_by"),
    [
        pytest.param(psb_death(), "death", id="death outranks moves"),
        pytest.param(prison("admitted", "2026-01-10", "S1"), "prison", id="prison outranks moves"),
    ],
)
def test_precedence(other: object, outranked_by: str) -> None:
    findings = evaluate(state(enrollment(), move("211202", "2026-03-15", "M1"), other), CTX)  # type: ignore[arg-type]
    moved = [f for f in findings if f.type == "HUKOU_MOVED_OUT"]
    assert [f.suppressed_by for f in moved] == [outranked_by]


def test_released_prisoner_moves_count_again() -> None:
    items = [
        enrollment(),
        move("211202", "2026-03-15", "M1"),
        prison("admitted", "2026-01-10", "S1"),
        prison("released", "2026-02-10", "S2"),
    ]
    assert opened(items) == ["HUKOU_MOVED_OUT"]
