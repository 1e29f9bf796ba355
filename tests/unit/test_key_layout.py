"""The Redis key layout spreads writes over a cluster's slots (issue 10, item 1): no key that
every save or every alert writes lives in one slot."""

from __future__ import annotations

from redis.crc import key_slot

from alerts import index
from welfare_watch import names


def _slot(key: str) -> int:
    return key_slot(key.encode())


def test_the_alert_index_and_order_are_spread_over_many_slots() -> None:
    ids = [f"alert-{i}" for i in range(2000)]
    index_slots = {_slot(names.alert_index_key(names.alert_shard(i))) for i in ids}
    order_slots = {_slot(k) for k in names.ALERT_ORDER_KEYS}
    assert len(index_slots) == names.ALERT_SHARDS
    assert len(order_slots) == names.ALERT_SHARDS


def test_an_alert_s_index_and_order_entries_share_a_slot() -> None:
    shard = names.alert_shard("any-alert")
    assert _slot(names.alert_index_key(shard)) == _slot(names.alert_order_key(shard))


def test_each_partition_s_progress_is_its_own_key_in_its_outbox_index_slot() -> None:
    slots = {_slot(names.progress_key(p)) for p in range(12)}
    assert len(slots) == 12
    for p in range(12):
        assert _slot(names.progress_key(p)) == _slot(names.outbox_index_key(p))


def test_owners_are_read_back_by_shard_in_the_order_asked() -> None:
    ids = [f"alert-{i}" for i in range(50)]
    asked = index.groups(ids)
    assert sorted(i for _, group in asked for i in group) == sorted(ids)
    assert all(names.alert_index_key(names.alert_shard(i)) == key for key, g in asked for i in g)
    replies = [[f"p-{i}".encode() if i != "alert-7" else None for i in g] for _, g in asked]
    owners = index.owners(asked, replies)
    assert owners == {i: f"p-{i}" for i in ids if i != "alert-7"}
