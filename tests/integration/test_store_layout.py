"""The store's layout on the real Redis (issue 10, items 1 and 2): one person is one hash
slot, written by one small script, and only by whoever loaded what is there now."""

from __future__ import annotations

import asyncio
import json
from typing import cast

import pytest

from streams.ledger import decode_ledger
from streams.state import PersonState, with_fact
from streams.store import Changes, Fenced, Loaded, PersonStore, encode_facts
from tests.factories import (
    PERSON,
    arrive,
    born,
    enrollment,
    health_death,
    payment,
    psb_death,
    state,
)
from tests.integration.conftest import Cli
from welfare_watch import names, redis_client
from welfare_watch.packing import unpack


def test_a_worker_that_lost_the_person_cannot_overwrite_the_new_owner(ww: Cli) -> None:
    """Both load the person; the new owner saves first; the old one's save is refused, and
    after loading again it sees what the new owner saved."""

    async def main() -> tuple[list[str], list[str]]:
        client = redis_client.connect_async(ww.env["WW_REDIS_URL"])
        try:
            old, new = PersonStore(client), PersonStore(client)
            seen_by_old, seen_by_new = await old.load([PERSON]), await new.load([PERSON])
            mine = with_fact(seen_by_new.states[PERSON], psb_death())
            await new.save(Changes(facts={PERSON: mine}), seen_by_new)
            stale = with_fact(seen_by_old.states[PERSON], health_death())
            with pytest.raises(Fenced):
                await old.save(Changes(facts={PERSON: stale}), seen_by_old)
            again = await old.load([PERSON])
            with_both = with_fact(again.states[PERSON], health_death())
            await old.save(Changes(facts={PERSON: with_both}), again)
            final = await new.load([PERSON])
            return sorted(mine.facts), sorted(final.states[PERSON].facts)
        finally:
            await client.aclose()

    first, final = asyncio.run(main())
    assert first == ["psb_deaths:GA1"]
    assert final == ["health_deaths:Y1", "psb_deaths:GA1"]


def test_a_person_s_state_and_outbox_share_one_slot() -> None:
    from redis.crc import key_slot

    slots = {key_slot(k.encode()) for k in (names.person_key(PERSON), names.outbox_key(PERSON))}
    assert len(slots) == 1


def test_a_fact_that_is_not_a_payment_leaves_the_stored_ledger_as_it_was(ww: Cli) -> None:
    """A death after a year of payments writes the facts, not the payments (streams.ledger):
    the ledger's two parts, put back by hand as plain JSON, are still plain JSON after the
    save (a save that wrote them would have compressed them)."""
    person = born("1951-02-03")
    key, parts = names.person_key(person), [names.PERSON_PAYMENTS, names.PERSON_PAYMENTS_REST]
    enrolled = state(enrollment(person_id=person), person=person)

    async def main() -> tuple[list[bytes], list[bytes | None], Loaded]:
        client = redis_client.connect_async(ww.env["WW_REDIS_URL"])
        try:
            store = PersonStore(client)
            first = await store.load([person])
            paid = arrive(enrolled, payment("2026-10"), payment("2026-11", amount="1500.00"))
            await store.save(Changes(facts={person: paid}), first)
            stored = cast(list[bytes], await client.hmget(key, parts))
            plain = [unpack(value) for value in stored]
            await client.hset(key, mapping=dict(zip(parts, plain, strict=True)))
            again = await store.load([person])
            dead = with_fact(again.states[person], psb_death())
            await store.save(Changes(facts={person: dead}), again)
            after = cast(list[bytes | None], await client.hmget(key, parts))
            return plain, after, await store.load([person])
        finally:
            await client.aclose()

    plain, after, final = asyncio.run(main())
    assert after == plain
    state_ = final.states[person]
    assert (list(state_.facts), len(state_.payments.regular), len(state_.payments.rest)) == (
        ["psb_deaths:GA1"],
        1,
        1,
    )


def test_a_state_stored_before_the_ledger_is_saved_with_its_payments_in_it(ww: Cli) -> None:
    """Payments among the facts, as the store held them before: read, and at the next save
    moved to their own field, the facts field left without them."""
    person = born("1952-03-04")
    paid = with_fact(state(enrollment(person_id=person), person=person), payment("2026-10"))
    (judged,) = [p.fact(person) for p in paid.payments]

    async def main() -> tuple[PersonState, bytes | None, list[bytes | None]]:
        client = redis_client.connect_async(ww.env["WW_REDIS_URL"])
        try:
            store, key = PersonStore(client), names.person_key(person)
            await client.hset(key, names.PERSON_FACTS, encode_facts({judged.identity: judged}))
            loaded = await store.load([person])
            dead = with_fact(loaded.states[person], psb_death())
            await store.save(Changes(facts={person: dead}), loaded)
            fields = [names.PERSON_FACTS, names.PERSON_PAYMENTS, names.PERSON_PAYMENTS_REST]
            facts, *payments = cast(list[bytes | None], await client.hmget(key, fields))
            return loaded.states[person], facts, payments
        finally:
            await client.aclose()

    read, facts, payments = asyncio.run(main())
    assert ([p.fact(person) for p in read.payments], read.facts) == ([judged], {})
    assert list(json.loads(unpack(cast(bytes, facts)))) == ["psb_deaths:GA1"]
    assert [p.fact(person) for p in decode_ledger(*payments)] == [judged]
