"""The store's layout on the real Redis (issue 10, items 1 and 2): one person is one hash
slot, written by one small script, and only by whoever loaded what is there now."""

from __future__ import annotations

import asyncio

import pytest

from streams.state import with_fact
from streams.store import Changes, Fenced, PersonStore
from tests.factories import PERSON, health_death, psb_death
from tests.integration.conftest import Cli
from welfare_watch import names, redis_client


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
