"""Where each alert is stored: the sharded alert index (names.alert_index_key), read in one
pipelined round trip of one HMGET per shard, on one Redis or on Redis Cluster alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from welfare_watch import names

Groups = list[tuple[str, list[str]]]  # (index key, the alert ids it is asked for)


def groups(alert_ids: Iterable[str]) -> Groups:
    """The alert ids by the index shard that holds them."""
    by_shard: dict[int, list[str]] = {}
    for alert_id in alert_ids:
        by_shard.setdefault(names.alert_shard(alert_id), []).append(alert_id)
    return [(names.alert_index_key(s), ids) for s, ids in sorted(by_shard.items())]


def owners(asked: Groups, replies: Sequence[Sequence[bytes | None]]) -> dict[str, str]:
    """alert id -> person id, from the replies of one HMGET per group (unknown ids left out)."""
    found: dict[str, str] = {}
    for (_, ids), reply in zip(asked, replies, strict=True):
        found.update((i, p.decode()) for i, p in zip(ids, reply, strict=True) if p is not None)
    return found
