"""The payments ledger (streams.ledger): every payment kept whole, apart from the other facts,
and a state stored before the ledger still read."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from streams.ledger import BadLedger, Ledger, decode_ledger, encode_rows, is_regular, ledger_of
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


def judged(*payments: Fact, status: str = "active") -> list[Fact]:
    """The payments as the worker stores them: judged against one enrollment (1560.00 a
    month) as they arrive."""
    s = arrive(state(enrollment(status=status)), *payments)
    return [p.fact(PERSON) for p in s.payments]


def stored(ledger: Ledger) -> tuple[bytes | None, bytes | None]:
    """The ledger's two fields as the store writes them (an empty part is not written)."""
    return (
        encode_rows(ledger.regular) if len(ledger.regular) else None,
        encode_rows(ledger.rest) if len(ledger.rest) else None,
    )


REGULAR = judged(payment("2026-09"), payment("2026-10", record_id="R1"))
WRONG = judged(payment("2026-08", amount="1500.00"))
INACTIVE = judged(payment("2026-07", record_id="I1"), status="exited")
REVOKING_R1 = payment("2026-10", record_id="R1").model_copy(update={"attrs": {"status": REVOKED}})
REVOKING_I1 = payment("2026-07", record_id="I1").model_copy(update={"attrs": {"status": REVOKED}})


def test_a_payment_comes_back_from_the_stored_ledger_as_it_arrived() -> None:
    arrived = [ODD, *REGULAR, *WRONG, *INACTIVE, REVOKING_R1]
    ledger = ledger_of(arrived)
    assert (len(ledger.regular), len(ledger.rest)) == (2, 4)
    back = decode_ledger(*stored(ledger))
    assert back == ledger
    assert {p.identity: p.fact(PERSON) for p in back} == {f.identity: f for f in arrived}


@pytest.mark.parametrize(
    ("payments", "standing", "irregular"),
    [
        pytest.param(REGULAR, REGULAR, [], id="all regular: nothing for rules 18 and 19"),
        pytest.param(
            [*REGULAR, *WRONG, *INACTIVE],
            [*INACTIVE, *WRONG, *REGULAR],
            [*INACTIVE, *WRONG],
            id="by month",
        ),
        pytest.param(
            [*REGULAR, REVOKING_R1], REGULAR[:1], [], id="a regular one revoked by the rest"
        ),
        pytest.param([*INACTIVE, *WRONG, REVOKING_I1], WRONG, WRONG, id="an irregular one revoked"),
        pytest.param([ODD], [ODD], [ODD], id="no verdict: not regular"),
    ],
)
def test_the_standing_payments_and_those_rules_18_and_19_may_flag(
    payments: list[Fact], standing: list[Fact], irregular: list[Fact]
) -> None:
    ledger = decode_ledger(*stored(ledger_of(payments)))
    assert [p.fact(PERSON) for p in ledger.standing] == standing
    assert [p.fact(PERSON) for p in ledger.irregular] == irregular
    assert list(ledger.irregular) == [p for p in ledger.standing if not is_regular(p)]


def test_the_payments_rules_18_and_19_may_flag_are_found_without_decoding_the_regular_ones() -> (
    None
):
    """The regular part is not decoded for them: unreadable, it is not noticed."""
    _, rest = stored(ledger_of([*REGULAR, *WRONG]))
    ledger = decode_ledger(b"not a ledger", rest)
    assert [p.fact(PERSON) for p in ledger.irregular] == WRONG
    with pytest.raises(BadLedger):
        ledger.standing  # noqa: B018 (the property decodes)


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
    ((paid,), death) = judged(payment("2026-10")), psb_death("2026-09-03")
    legacy = encode_facts({paid.identity: paid, death.identity: death})
    facts, ledger, apart = decode_facts(legacy, None, None)
    assert (list(facts), [p.identity for p in ledger.regular.entries.values()], apart) == (
        [death.identity],
        [paid.identity],
        False,  # every field is written at the next save
    )
    s = arrive(state(enrollment()), paid, death)
    assert [f.type for f in evaluate(s, CTX)] == [
        f.type for f in evaluate(state(enrollment(), death, paid), CTX)
    ]
    _, _, apart = decode_facts(encode_facts(facts), *stored(ledger))
    assert apart


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(pack(b'{"ledger": 2, "rows": []}'), id="a newer format"),
        pytest.param(pack(json.dumps({"payments:1": {}}).encode()), id="not a ledger"),
        pytest.param(b"[]", id="a list"),
    ],
)
def test_a_ledger_this_version_cannot_read_is_an_error(raw: bytes) -> None:
    ledger = decode_ledger(raw)  # decoded when first looked at
    with pytest.raises(BadLedger, match="format this version cannot read"):
        len(ledger)
