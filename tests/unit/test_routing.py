"""Routing: the caseworker, or the district supervisor — never nowhere."""

from __future__ import annotations

import pytest

from alerts.routing import route
from streams.rules.finding import Subject
from welfare_watch.settings import Routing

KNOWN = Routing(caseworkers=frozenset({"cw-210105-01"}))


def subject(caseworker: str) -> Subject:
    return Subject(
        "210105195203140118", "杨德福", "dibao_urban", "HH-1", "210105", "华山社区", caseworker
    )


@pytest.mark.parametrize(
    ("caseworker", "routing", "to_supervisor", "queue"),
    [
        pytest.param("cw-210105-01", KNOWN, False, "cw-210105-01", id="known caseworker"),
        pytest.param("cw-gone-99", KNOWN, False, "supervisor-210105", id="unknown: supervisor"),
        pytest.param("", KNOWN, False, "supervisor-210105", id="none: supervisor"),
        pytest.param("cw-any", Routing(), False, "cw-any", id="no list configured: trust roster"),
        pytest.param("cw-210105-01", KNOWN, True, "supervisor-210105", id="rule 14, escalations"),
    ],
)
def test_route(caseworker: str, routing: Routing, to_supervisor: bool, queue: str) -> None:
    assert route(subject(caseworker), to_supervisor, routing) == queue
