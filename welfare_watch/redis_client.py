"""The one place Redis clients are made: one server, or Redis Cluster, from WW_REDIS_URL.

`redis://host:port/0` (or `rediss://` for TLS) is one server. `redis+cluster://host:port` (or
`rediss+cluster://`) is Redis Cluster: the client learns the other nodes from the one named and
follows its slots; more start nodes may be listed, comma-separated
(`redis+cluster://10.0.0.1:6379,10.0.0.2:6379`). A cluster has one database, so no `/db`.

Every key that one command or transaction touches together shares a hash tag
(welfare_watch/names.py), so the same code runs on both. The cluster clients are typed as the
plain ones: they offer the same commands, and the code uses no command that would cross slots.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.cluster

from welfare_watch.security import redis_options

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster(url: str) -> bool:
    return urlsplit(url.strip()).scheme in CLUSTER_SCHEMES


def connect(url: str, **options: Any) -> redis.Redis:
    """A blocking client for `url` (see the module), with AUTH and TLS from the settings
    (welfare_watch/security.py); `options` given here win."""
    options = {**_secured(url), **options}
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    first, others = _cluster_nodes(url)
    nodes = [redis.cluster.ClusterNode(host, port) for host, port in others]  # type: ignore[no-untyped-call]
    client = redis.cluster.RedisCluster.from_url(first, startup_nodes=nodes or None, **options)
    return cast(redis.Redis, client)


def connect_async(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio client for `url` (see the module), secured like `connect`."""
    options = {**_secured(url), **options}
    if not is_cluster(url):
        return aioredis.Redis.from_url(url, **options)
    first, others = _cluster_nodes(url)
    nodes = [aiocluster.ClusterNode(host, port) for host, port in others]
    client = aiocluster.RedisCluster.from_url(first, startup_nodes=nodes or None, **options)
    return cast(aioredis.Redis, client)


AnyClient = redis.Redis | aioredis.Redis | redis.cluster.RedisCluster | aiocluster.RedisCluster


def per_primary(client: AnyClient, candidates: Iterable[str]) -> list[str]:
    """Of `candidates`, the first that each master of a Redis Cluster serves, one per master
    (as the client sees the cluster now: an asyncio client must have run a command, or
    `initialize()`, first); the first candidate alone on one server."""
    keys = iter(candidates)
    if not isinstance(client, redis.cluster.RedisCluster | aiocluster.RedisCluster):
        return [next(keys)]
    wanted = {node.name for node in client.get_primaries()}
    found: dict[str, str] = {}
    for key in itertools.islice(keys, _SEARCHED):
        node = client.get_node_from_key(key)
        if node is not None and node.name in wanted:
            found.setdefault(node.name, key)
            if len(found) == len(wanted):
                return sorted(found.values())
    raise RuntimeError(f"no key for {len(wanted) - len(found)} of the cluster's masters")


_SEARCHED = 100_000  # candidates tried (a master serving one slot in 16,384 is found in ~16k)


def _secured(url: str) -> dict[str, Any]:
    return redis_options(url=url)


def _cluster_nodes(url: str) -> tuple[str, list[tuple[str, int]]]:
    """The plain URL of the first node, and the other start nodes (host, port)."""
    parts = urlsplit(url.strip())
    userinfo, _, hosts = parts.netloc.rpartition("@")
    first, *rest = hosts.split(",")
    others = []
    for node in rest:
        host, _, port = node.rpartition(":")
        others.append((host or node, int(port) if host else 6379))
    netloc = f"{userinfo}@{first}" if userinfo else first
    return urlunsplit((CLUSTER_SCHEMES[parts.scheme], netloc, "", parts.query, "")), others
