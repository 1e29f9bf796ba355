"""Who sees and does what: the role × scope matrix, reassignment, and the indexes a list reads."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.model import Alert
from alerts.reconcile import reconcile
from streams.rules import evaluate
from tests.factories import CTX, POLICY, enrollment, psb_death, state
from web.access import can_act, can_reassign, can_see, caseworker_district, visible_index
from welfare_watch import names
from welfare_watch.settings import Policy, Routing
from welfare_watch.tokens import Claims, reader

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
LISTED = POLICY.model_copy(
    update={"routing": Routing(caseworkers=frozenset({"cw-210105-01", "cw-210105-02"}))}
)


def claims(role: str, scope: str) -> Claims:
    return Claims(role, scope, NOW + dt.timedelta(days=1), "S-0042", "0" * 32)  # type: ignore[arg-type]


def _base() -> Alert:
    s = state(enrollment(), psb_death())
    (opened,) = reconcile(evaluate(s, CTX), {}, s.revoked, now=NOW, trigger="event", policy=POLICY)
    return opened


BASE = _base()


def alert(queue: str, district: str) -> Alert:
    return BASE.model_copy(update={"queue": queue, "district_code": district})


CW = claims("caseworker", "cw-210105-01")
SUP = claims("supervisor", "210105")
CITY = claims("supervisor", "210100")
AUDITOR = claims("auditor", "*")
DEPT = claims("department", "psb_deaths")

OWN_QUEUE = alert("cw-210105-01", "210105")
COLLEAGUE = alert("cw-210105-02", "210105")  # another caseworker of the same district
DISTRICT_QUEUE = alert("supervisor-210105", "210105")
OTHER_CW = alert("cw-210102-03", "210102")
OTHER_QUEUE = alert("supervisor-210102", "210102")
CITY_QUEUE = alert("supervisor-210100", "110101")  # a person from outside the city
MOVED_IN = alert("cw-210105-01", "210102")  # another district's enrollment, our caseworker
MOVED_OUT = alert("cw-210102-03", "210105")  # our district's enrollment, their caseworker

# (who, alert, sees, acts)
MATRIX = [
    pytest.param(CW, OWN_QUEUE, True, True, id="caseworker-own-queue"),
    pytest.param(CW, MOVED_IN, True, True, id="caseworker-own-queue-other-district"),
    pytest.param(CW, COLLEAGUE, False, False, id="caseworker-colleague-queue"),
    pytest.param(CW, DISTRICT_QUEUE, False, False, id="caseworker-supervisor-queue"),
    pytest.param(CW, OTHER_CW, False, False, id="caseworker-other-district"),
    pytest.param(CW, CITY_QUEUE, False, False, id="caseworker-city-queue"),
    pytest.param(SUP, OWN_QUEUE, True, True, id="supervisor-own-district-caseworker"),
    pytest.param(SUP, COLLEAGUE, True, True, id="supervisor-own-district-other-caseworker"),
    pytest.param(SUP, DISTRICT_QUEUE, True, True, id="supervisor-own-queue"),
    pytest.param(SUP, MOVED_IN, True, True, id="supervisor-own-caseworker-other-district"),
    pytest.param(SUP, MOVED_OUT, True, True, id="supervisor-own-district-in-other-queue"),
    pytest.param(SUP, OTHER_CW, False, False, id="supervisor-other-district-caseworker"),
    pytest.param(SUP, OTHER_QUEUE, False, False, id="supervisor-other-district-queue"),
    pytest.param(SUP, CITY_QUEUE, False, False, id="supervisor-city-queue-alert"),
    pytest.param(CITY, CITY_QUEUE, True, True, id="city-supervisor-city-queue"),
    pytest.param(CITY, OWN_QUEUE, True, True, id="city-supervisor-caseworker"),
    pytest.param(CITY, DISTRICT_QUEUE, True, True, id="city-supervisor-district-queue"),
    pytest.param(CITY, OTHER_QUEUE, True, True, id="city-supervisor-other-district-queue"),
    pytest.param(AUDITOR, OWN_QUEUE, True, False, id="auditor-caseworker-queue"),
    pytest.param(AUDITOR, DISTRICT_QUEUE, True, False, id="auditor-district-queue"),
    pytest.param(AUDITOR, CITY_QUEUE, True, False, id="auditor-city-queue"),
    pytest.param(DEPT, OWN_QUEUE, False, False, id="department-caseworker-queue"),
    pytest.param(DEPT, CITY_QUEUE, False, False, id="department-city-queue"),
    pytest.param(claims("department", "*"), OWN_QUEUE, False, False, id="department-star"),
    pytest.param(claims("auditor", "210105"), OWN_QUEUE, False, False, id="auditor-not-star"),
    pytest.param(claims("supervisor", "210199"), alert("supervisor-210199", "210199"), False,
                 False, id="supervisor-of-a-district-not-configured"),
    pytest.param(claims("caseworker", "supervisor-210105"), DISTRICT_QUEUE, False, False,
                 id="caseworker-token-naming-a-supervisor-queue"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "the_alert", "sees", "acts"), MATRIX)
def test_who_sees_and_acts_on_which_alert(
    who: Claims, the_alert: Alert, sees: bool, acts: bool
) -> None:
    assert can_see(who, the_alert, POLICY) is sees
    assert can_act(who, the_alert, POLICY) is acts


def test_a_caseworker_taken_off_the_configured_list_sees_nothing() -> None:
    listed = claims("caseworker", "cw-210105-01")
    gone = claims("caseworker", "cw-210105-09")
    mine = alert("cw-210105-09", "210105")
    assert can_see(listed, OWN_QUEUE, LISTED)
    assert not can_see(gone, mine, LISTED)
    assert not can_act(gone, mine, LISTED)
    assert visible_index(gone, LISTED) == []


@pytest.mark.parametrize(
    "queue",
    ["cw-210105-01", "cw-210102-03", "cw-1", "supervisor-210105", "supervisor-210100"],
)
def test_the_person_routing_sends_an_alert_to_sees_it_and_can_act(queue: str) -> None:
    found = reader(queue, POLICY)
    assert found is not None
    owner = claims(*found)
    the_alert = alert(queue, "210105" if queue != "supervisor-210100" else "110101")
    assert can_see(owner, the_alert, POLICY)
    assert can_act(owner, the_alert, POLICY)


# (who, alert, target queue, policy, None = allowed or a part of the reason)
REASSIGN = [
    pytest.param(SUP, OWN_QUEUE, "cw-210105-02", POLICY, None, id="within-district"),
    pytest.param(SUP, DISTRICT_QUEUE, "cw-210105-01", POLICY, None, id="from-supervisor-queue"),
    pytest.param(SUP, MOVED_OUT, "cw-210105-01", POLICY, None, id="back-into-district"),
    pytest.param(SUP, OWN_QUEUE, "cw-210102-03", POLICY, "not in your district (210105)",
                 id="to-another-district"),
    pytest.param(SUP, OWN_QUEUE, "cw-1", POLICY, "not in your district", id="to-no-district"),
    pytest.param(SUP, OWN_QUEUE, "supervisor-210105", POLICY, "is not the queue of a caseworker",
                 id="to-a-supervisor-queue"),
    pytest.param(SUP, OWN_QUEUE, "", POLICY, "is not the queue of a caseworker", id="to-nowhere"),
    pytest.param(SUP, OWN_QUEUE, "*", POLICY, "is not the queue of a caseworker", id="to-star"),
    pytest.param(SUP, OWN_QUEUE, "cw-210105-09", LISTED, "is not the queue of a caseworker",
                 id="to-a-queue-no-token-reads"),
    pytest.param(SUP, OWN_QUEUE, "cw-210105-02", LISTED, None, id="to-a-listed-caseworker"),
    pytest.param(SUP, OTHER_CW, "cw-210105-01", POLICY, "outside your scope",
                 id="an-alert-of-another-district"),
    pytest.param(CW, OWN_QUEUE, "cw-210105-02", POLICY, "only a supervisor", id="by-caseworker"),
    pytest.param(AUDITOR, OWN_QUEUE, "cw-210105-02", POLICY, "only a supervisor",
                 id="by-auditor"),
    pytest.param(DEPT, OWN_QUEUE, "cw-210105-02", POLICY, "only a supervisor", id="by-department"),
    pytest.param(CITY, CITY_QUEUE, "cw-210102-03", POLICY, None, id="city-from-city-queue"),
    pytest.param(CITY, OWN_QUEUE, "cw-210102-03", POLICY, None, id="city-across-districts"),
    pytest.param(CITY, OWN_QUEUE, "cw-1", POLICY, None, id="city-to-any-readable-caseworker"),
    pytest.param(CITY, OWN_QUEUE, "supervisor-210102", POLICY,
                 "is not the queue of a caseworker", id="city-to-a-supervisor-queue"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "the_alert", "target", "policy", "refusal"), REASSIGN)
def test_who_may_reassign_an_alert_to_which_queue(
    who: Claims, the_alert: Alert, target: str, policy: Policy, refusal: str | None
) -> None:
    reason = can_reassign(who, the_alert, target, policy)
    if refusal is None:
        assert reason is None
    else:
        assert reason is not None
        assert refusal in reason


@pytest.mark.parametrize(
    ("who", "keys"),
    [
        (CW, [names.queue_alerts_key("cw-210105-01")]),
        (SUP, [names.district_alerts_key("210105")]),
        (CITY, list(names.ALERT_ORDER_KEYS)),
        (AUDITOR, list(names.ALERT_ORDER_KEYS)),
        (DEPT, []),
        (claims("supervisor", "210199"), []),
        (claims("caseworker", "supervisor-210105"), []),
    ],
)
def test_a_list_reads_only_the_index_of_what_the_caller_may_see(
    who: Claims, keys: list[str]
) -> None:
    assert visible_index(who, POLICY) == keys


@pytest.mark.parametrize(
    ("caseworker", "policy", "district"),
    [
        ("cw-210105-01", POLICY, "210105"),
        ("cw-210102-03", POLICY, "210102"),
        ("cw-110101-01", POLICY, None),  # a district code of another city
        ("cw-1", POLICY, None),
        ("supervisor-210105", POLICY, None),
        ("", POLICY, None),
        ("cw-210105-02", LISTED, "210105"),
        ("cw-210105-09", LISTED, None),  # not listed: no token reads it
    ],
)
def test_a_caseworkers_district_is_the_configured_one_in_their_id(
    caseworker: str, policy: Policy, district: str | None
) -> None:
    assert caseworker_district(caseworker, policy) == district
