"""What one person with a year of payments costs the worker, in microseconds: encoding what a
save writes, and decoding and evaluating them (bench/RESULTS.md, session 9).

    .venv/bin/python -m bench.person_cost

One enrollment, 12 monthly payments of its approved amount, and for "dead" a death record;
no Redis or Kafka: the pure codec and the rules, the best of three runs of 5,000 rounds each.
"""

from __future__ import annotations

import datetime as dt
import timeit
from collections.abc import Callable
from decimal import Decimal

from streams.ledger import encode_rows
from streams.rules import Context, evaluate
from streams.state import PersonState, with_fact
from streams.store import decode_facts, encode_facts
from welfare_watch.models import Enrollment, Fact
from welfare_watch.settings import load_policy

PERSON = "210104195710090016"
NAME = "马伟文"
RECEIVED = dt.datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=dt.UTC)
ROUNDS = 5000


def microseconds(call: Callable[[], object]) -> float:
    timeit.timeit(call, number=200)  # warm
    return min(timeit.repeat(call, number=ROUNDS, repeat=3)) / ROUNDS * 1e6


def paid_a_year() -> PersonState:
    enrollment = Enrollment(
        person_id=PERSON, name=NAME, program="dibao_urban", household_id="HH-2101040001",
        role="head", district_code="210104", community="新华社区", caseworker_id="cw-210104-3",
        monthly_amount=Decimal("340.00"), start_date=dt.date(2020, 1, 1), status="active",
        changed_at=dt.datetime(2026, 11, 28, tzinfo=dt.UTC),
    )  # fmt: skip
    state = PersonState(PERSON, (enrollment,))
    for month in range(12):
        year, number = divmod(2025 * 12 + 10 + month, 12)
        paid_for = dt.date(year, number + 1, 1)
        state = with_fact(state, Fact(
            feed="payments", kind="payment", record_id=f"FF-{paid_for:%Y%m}-0001",
            person_id=PERSON, name=NAME, event_date=paid_for,
            attrs={"program": "dibao_urban", "amount": "340.00",
                   "paid_date": f"{paid_for:%Y-%m}-10", "batch_id": f"FF-{paid_for:%Y%m}-04"},
            received_at=RECEIVED, source="file:payments.csv", delivery="d-1234567890abcdef",
        ))  # fmt: skip
    return state


def main() -> None:
    alive = paid_a_year()
    dead = with_fact(alive, Fact(
        feed="psb_deaths", kind="death", record_id="PSB-0001", person_id=PERSON, name=NAME,
        event_date=dt.date(2026, 11, 3), received_at=RECEIVED, source="kafka:dept.psb_deaths.raw",
    ))  # fmt: skip
    ctx = Context(load_policy(), dt.date(2026, 12, 6))
    regular = encode_rows(alive.payments.regular)

    def judged(state: PersonState) -> Callable[[], object]:
        stored = encode_facts(state.facts)

        def decode_and_evaluate() -> object:
            facts, ledger, _ = decode_facts(stored, regular, None)
            return evaluate(PersonState(PERSON, state.enrollments, facts, payments=ledger), ctx)

        return decode_and_evaluate

    print(f"stored: the regular payments {len(regular)} bytes")
    print(
        f"encode after a death (the facts): {microseconds(lambda: encode_facts(dead.facts)):.1f} µs"
    )
    print(
        "encode after a payment (the regular payments): "
        f"{microseconds(lambda: encode_rows(alive.payments.regular)):.1f} µs"
    )
    print(f"decode and evaluate, dead: {microseconds(judged(dead)):.1f} µs")
    print(f"decode and evaluate, neither dead nor in prison: {microseconds(judged(alive)):.1f} µs")


if __name__ == "__main__":
    main()
