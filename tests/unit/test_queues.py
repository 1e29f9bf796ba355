"""No alert goes to a queue nobody can read: every routing path ends where an issued token reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.escalation import overdue
from alerts.model import Alert
from alerts.reconcile import reconcile
from alerts.routing import route
from streams.rules import Context, evaluate
from streams.rules.finding import Subject
from streams.scan import _applicant
from streams.state import PersonState
from tests.factories import (
    POLICY,
    TODAY,
    arrive,
    born,
    enrollment,
    fact,
    payment,
    psb_death,
    state,
)
from welfare_watch.models import Fact
from welfare_watch.names import supervisor_queue
from welfare_watch.settings import Environment, Policy, Routing, Settings
from welfare_watch.tokens import Claims, TokenError, issue_command, readable, reader, verify

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
SECRET = "unit-test-secret-at-least-32-bytes-long"
LISTED = POLICY.model_copy(
    update={"routing": Routing(caseworkers=frozenset({"cw-210105-01", "cw-210102-01"}))}
)
TRUSTING = POLICY.model_copy(update={"routing": Routing()})
OUTSIDER = born("1960-05-01", "110101")  # an ID number issued in Beijing, never on the roster


def settings_for(policy: Policy) -> Settings:
    return Settings(Environment(secret_key=SECRET), policy)


def token_reading(queue: str, policy: Policy) -> Claims:
    """The claims of the token `token issue` gives for this queue: it must issue one."""
    found = reader(queue, policy)
    assert found is not None, f"no token reads {queue!r}"
    role, scope = found
    assert queue == (scope if role == "caseworker" else policy.city.supervisor_queue(scope))
    token = issue_command(settings_for(policy), role, scope, 7, subject="S-1", now=NOW, log=print)
    claims = verify(token, SECRET.encode(), NOW)
    assert (claims.role, claims.scope) == (role, scope)
    return claims


def alerts_for(s: PersonState, policy: Policy) -> list[Alert]:
    findings = evaluate(s, Context(policy, TODAY))
    return reconcile(findings, {}, s.revoked, now=NOW, trigger="event", policy=policy)


def staff_declaration() -> Fact:
    return fact("staff_relative", "staff_relatives", "R1", "2026-01-01", staff_id="MZ-1")


def escalated(policy: Policy, s: PersonState) -> list[Alert]:
    findings = list(overdue(alerts_for(s, policy), TODAY + dt.timedelta(days=30)))
    return reconcile(findings, {}, frozenset(), now=NOW, trigger="scan", policy=policy)


def outsider_paid() -> PersonState:
    paid = payment("2026-10").model_copy(update={"person_id": OUTSIDER})
    return arrive(state(person=OUTSIDER), paid)


def died(**enrolled: Any) -> PersonState:
    return state(enrollment(**enrolled), psb_death())


PATHS = [
    pytest.param(
        lambda p: alerts_for(died(caseworker_id="cw-210105-01"), p),
        LISTED, {"DECEASED_BENEFICIARY": ("cw-210105-01", "caseworker")},
        id="caseworker",
    ),
    pytest.param(
        lambda p: alerts_for(died(caseworker_id="cw-gone-99"), p),
        LISTED, {"DECEASED_BENEFICIARY": ("supervisor-210105", "supervisor")},
        id="caseworker not in [routing] caseworkers",
    ),
    pytest.param(
        lambda p: alerts_for(died(caseworker_id="cw-anyone"), p),
        TRUSTING, {"DECEASED_BENEFICIARY": ("cw-anyone", "caseworker")},
        id="no caseworker list: the roster's caseworker",
    ),
    pytest.param(
        lambda p: alerts_for(died(caseworker_id=""), p),
        LISTED, {"DECEASED_BENEFICIARY": ("supervisor-210105", "supervisor")},
        id="no caseworker",
    ),
    pytest.param(
        lambda p: alerts_for(state(enrollment(), staff_declaration()), p),
        LISTED, {"STAFF_RELATIVE": ("supervisor-210105", "supervisor")},
        id="rule 14 to the supervisor",
    ),
    pytest.param(
        lambda p: escalated(p, died(caseworker_id="cw-210105-01")),
        LISTED, {"CASE_OVERDUE": ("supervisor-210105", "supervisor")},
        id="rule 20 escalation",
    ),
    pytest.param(
        lambda p: alerts_for(outsider_paid(), p),
        LISTED, {"PAYMENT_TO_INACTIVE": ("supervisor-210100", "supervisor")},
        id="payment to someone from outside the city",
    ),
    pytest.param(
        lambda p: escalated(p, outsider_paid()),
        LISTED, {"CASE_OVERDUE": ("supervisor-210100", "supervisor")},
        id="escalation of a city-queue alert",
    ),
    pytest.param(
        lambda p: alerts_for(died(district="210102", caseworker_id=""), p),
        LISTED, {"DECEASED_BENEFICIARY": ("supervisor-210102", "supervisor")},
        id="enrollment in a configured district",
    ),
    pytest.param(
        lambda p: alerts_for(died(district="210199", caseworker_id=""), p),
        LISTED, {"DECEASED_BENEFICIARY": ("supervisor-210100", "supervisor")},
        id="enrollment in a district no longer configured",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("alerts", "policy", "expected"), PATHS)
def test_every_routing_path_ends_in_a_queue_an_issued_token_reads(
    alerts: Callable[[Policy], list[Alert]], policy: Policy, expected: dict[str, tuple[str, str]]
) -> None:
    made = alerts(policy)
    assert {a.type: (a.queue, token_reading(a.queue, policy).role) for a in made} == expected


def test_the_city_supervisor_token_is_issued_and_reads_the_city_queue() -> None:
    claims = token_reading("supervisor-210100", POLICY)
    assert (claims.role, claims.scope) == ("supervisor", POLICY.city.code)
    assert POLICY.city.code == "210100"


def test_a_precheck_applicant_from_outside_the_city_is_the_city_s_case() -> None:
    settings = settings_for(POLICY)
    assert _applicant(OUTSIDER, "dibao_urban", settings, TODAY).district_code == "210100"
    here = born("1960-05-01", "210103")
    assert _applicant(here, "dibao_urban", settings, TODAY).district_code == "210103"


@pytest.mark.parametrize(
    "queue",
    [
        "supervisor-110101",  # a district of another city
        "supervisor-210199",  # in the city, not configured
        "supervisor-",
        "supervisor-*",
        "*",
        "",
        " cw-210105-01",
        "cw-gone-99",  # not in [routing] caseworkers
    ],
)
def test_a_queue_no_issued_token_reads_is_not_readable(queue: str) -> None:
    assert not readable(queue, LISTED)


# Anything a roster or a stale configuration could hold: district codes in and out of the city,
# nonsense, caseworker ids listed, unlisted, empty, odd.
districts = st.one_of(
    st.sampled_from(sorted(POLICY.city.districts)),
    st.from_regex(r"[0-9]{6}", fullmatch=True),
    st.from_regex(r"2101[0-9]{2}", fullmatch=True),
    st.text(max_size=8),
)
caseworkers = st.one_of(
    st.sampled_from(["cw-210105-01", "cw-210102-01", "cw-gone-99", "", "*", "supervisor-210105"]),
    st.text(max_size=20),
)


@given(
    district=districts,
    caseworker=caseworkers,
    to_supervisor=st.booleans(),
    policy=st.sampled_from([LISTED, TRUSTING]),
)
def test_route_always_ends_where_an_issued_token_reads(
    district: str, caseworker: str, to_supervisor: bool, policy: Policy
) -> None:
    subject = Subject(OUTSIDER, "", "dibao_urban", "", district, "", caseworker)
    token_reading(route(subject, to_supervisor, policy), policy)


def _issued(policy: Policy, role: str, scope: str) -> Claims | None:
    try:
        token = issue_command(
            settings_for(policy), role, scope, 1, subject="S-1", now=NOW, log=print
        )
    except TokenError:
        return None
    return verify(token, SECRET.encode(), NOW)


@given(queue=caseworkers, policy=st.sampled_from([LISTED, TRUSTING]))
def test_a_caseworker_queue_is_readable_exactly_when_its_token_is_issued(
    queue: str, policy: Policy
) -> None:
    claims = _issued(policy, "caseworker", queue)
    issued = claims is not None and claims.scope == queue
    assert (reader(queue, policy) == ("caseworker", queue)) == issued


@given(district=districts)
def test_a_supervisor_queue_is_readable_exactly_when_its_token_is_issued(district: str) -> None:
    claims = _issued(POLICY, "supervisor", district)
    issued = claims is not None and claims.scope == district
    assert (reader(supervisor_queue(district), POLICY) == ("supervisor", district)) == issued
