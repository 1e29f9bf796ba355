"""The payments ledger (streams.ledger): every payment kept whole, apart from the other facts,
and a state stored before the ledger still read."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from streams.ledger import BadLedger, decode_ledger, encode_ledger, ledger_of
from streams.rules import evaluate
from streams.state import with_fact
from streams.store import decode_facts, encode_facts
from tests.factories import CTX, PERSON, arrive, enrollment, payment, psb_death, state
from welfare_watch.models import REVOKED, Fact
from welfare_watch.packing import pack

ODD = Fact(  # everything a payment may carry that the factory's do not
    feed="payments",
    kind="payment",
    record_id="FF-2026-0001",
    person_id=PERSON,
    name="欧阳 娜娜",
    event_date=None,
    attrs={"program": "tekun", "amount": "700.00", "note": '引号" 与 \\ 斜杠'},
    received_at=dt.datetime(
        2026, 11, 3, 8, 15, 2, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))
    ),
    source="http:request-7",
    delivery="d-42",
)


def test_a_payment_comes_back_from_the_stored_ledger_as_it_arrived() -> None:
    arrived = [ODD, payment("2026-10"), payment("2026-11", record_id="R1")]
    revocation = payment("2026-11", record_id="R1").model_copy(
        update={"attrs": {"status": REVOKED}}
    )
    ledger = ledger_of([*arrived, revocation])
    back = decode_ledger(encode_ledger(ledger))
    assert {p.identity: p.fact(PERSON) for p in back} == {
        f.identity: f for f in [*arrived, revocation]
    }


def test_the_standing_payments_leave_out_revocations_and_what_they_revoke_by_month() -> None:
    later, earlier = payment("2026-11"), payment("2026-09")
    revoked = payment("2026-10", record_id="R1")
    revocation = revoked.model_copy(update={"attrs": {"status": REVOKED}})
    ledger = decode_ledger(encode_ledger(ledger_of([later, revoked, revocation, earlier])))
    assert [p.fact(PERSON) for p in ledger.standing] == [earlier, later]


def test_payments_go_to_the_ledger_and_other_facts_do_not() -> None:
    death = psb_death()
    s = arrive(state(enrollment()), payment("2026-10"), death, payment("2026-10"))
    assert list(s.facts) == [death.identity]
    assert [p.identity for p in s.payments] == [payment("2026-10").identity]
    assert with_fact(s, payment("2026-10")) is s  # the same record twice
    with pytest.raises(ValueError, match=r"PersonState\.payments"):
        s.standing("payment")


def test_a_state_stored_with_its_payments_among_its_facts_is_read_with_them_in_the_ledger() -> None:
    """As the store held it before the ledger: every fact, payments too, in one field."""
    paid, death = payment("2026-10"), psb_death("2026-09-03")
    legacy = encode_facts({paid.identity: paid, death.identity: death})
    facts, ledger, apart = decode_facts(legacy, None)
    assert (list(facts), [p.identity for p in ledger], apart) == (
        [death.identity],
        [paid.identity],
        False,  # both fields are written at the next save
    )
    s = arrive(state(enrollment()), paid, death)
    assert [f.type for f in evaluate(s, CTX)] == [
        f.type for f in evaluate(state(enrollment(), death, paid), CTX)
    ]
    _, _, apart = decode_facts(encode_facts(facts), encode_ledger(ledger))
    assert apart


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(pack(b'{"ledger": 2, "rows": []}'), id="a newer format"),
        pytest.param(pack(json.dumps({"payments:1": {}}).encode()), id="not a ledger"),
        pytest.param(b"[]", id="a list"),
    ],
)
def test_a_ledger_this_version_cannot_read_is_an_error(stored: bytes) -> None:
    ledger = decode_ledger(stored)  # decoded when first looked at
    with pytest.raises(BadLedger, match="format this version cannot read"):
        len(ledger)
