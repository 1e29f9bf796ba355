"""The Redis key layout spreads writes over a cluster's slots (issue 10, item 1): no key that
every save or every alert writes lives in one slot."""

from __future__ import annotations

import itertools
from typing import Any

import redis
import redis.cluster
from redis.crc import key_slot

from alerts import index
from welfare_watch import names, redis_client


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


def test_a_partition_s_progress_is_first_its_own_key_then_keys_of_other_slots() -> None:
    first, *more = itertools.islice(names.progress_key_candidates(3), 20)
    assert first == names.progress_key(3)
    assert len({_slot(k) for k in (first, *more)}) == 20
    assert all(k.startswith(names.PREFIX + "progress:") for k in more)  # PROGRESS_PATTERN


class _Node:
    def __init__(self, name: str) -> None:
        self.name = name


class _ThreeMasters(redis.cluster.RedisCluster):
    """Slots 0-5460, 5461-10922 and 10923-16383, as `redis-cli --cluster create` splits them."""

    def __init__(self) -> None:  # no connection: only the slot map is asked
        self.masters = [_Node("a"), _Node("b"), _Node("c")]

    def get_primaries(self) -> list[Any]:
        return self.masters

    def get_node_from_key(self, key: str, replica: bool = False) -> Any:
        return self.masters[min(_slot(key) // 5461, 2)]


def test_progress_is_kept_on_every_master_of_a_cluster_and_in_one_key_on_one_server() -> None:
    cluster = _ThreeMasters()
    keys = redis_client.per_primary(cluster, names.progress_key_candidates(5))
    assert sorted(cluster.get_node_from_key(k).name for k in keys) == ["a", "b", "c"]
    assert names.progress_key(5) in keys  # its own key, where its master serves it
    assert keys == redis_client.per_primary(cluster, names.progress_key_candidates(5))
    one = redis.Redis()  # no connection is made
    assert redis_client.per_primary(one, names.progress_key_candidates(5)) == [
        names.progress_key(5)
    ]
