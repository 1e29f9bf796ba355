"""Routing: the caseworker, or the district supervisor, or the city's — never nowhere."""

from __future__ import annotations

import pytest

from alerts.routing import route
from streams.rules.finding import Subject
from tests.factories import POLICY
from welfare_watch.settings import Policy, Routing

KNOWN = POLICY.model_copy(update={"routing": Routing(caseworkers=frozenset({"cw-210105-01"}))})
TRUSTING = POLICY.model_copy(update={"routing": Routing()})


def subject(caseworker: str, district: str = "210105") -> Subject:
    return Subject(
        "210105195203140118", "杨德福", "dibao_urban", "HH-1", district, "华山社区", caseworker
    )


@pytest.mark.parametrize(
    ("caseworker", "policy", "to_supervisor", "queue"),
    [
        pytest.param("cw-210105-01", KNOWN, False, "cw-210105-01", id="known caseworker"),
        pytest.param("cw-gone-99", KNOWN, False, "supervisor-210105", id="unknown: supervisor"),
        pytest.param("", KNOWN, False, "supervisor-210105", id="none: supervisor"),
        pytest.param("cw-any", TRUSTING, False, "cw-any", id="no list configured: trust roster"),
        pytest.param("cw-210105-01", KNOWN, True, "supervisor-210105", id="rule 14, escalations"),
        pytest.param("*", TRUSTING, False, "supervisor-210105", id="no token names '*'"),
        pytest.param(" cw-1", TRUSTING, False, "supervisor-210105", id="no token has spaces"),
        pytest.param(
            "supervisor-210102", TRUSTING, False, "supervisor-210105", id="not a caseworker id"
        ),
    ],
)
def test_route(caseworker: str, policy: Policy, to_supervisor: bool, queue: str) -> None:
    assert route(subject(caseworker), to_supervisor, policy) == queue


@pytest.mark.parametrize(
    ("district", "queue"),
    [
        pytest.param("210102", "supervisor-210102", id="configured district"),
        pytest.param("110101", "supervisor-210100", id="outside the city: the city's"),
        pytest.param("210199", "supervisor-210100", id="in the city, not configured"),
        pytest.param("210100", "supervisor-210100", id="the city itself"),
    ],
)
def test_a_district_that_is_not_configured_goes_to_the_city(district: str, queue: str) -> None:
    assert route(subject("", district), True, KNOWN) == queue
