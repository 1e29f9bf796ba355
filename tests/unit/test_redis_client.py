"""WW_REDIS_URL names one server or a Redis Cluster (welfare_watch.redis_client)."""

from __future__ import annotations

import pytest

from welfare_watch.redis_client import _cluster_nodes, is_cluster


@pytest.mark.parametrize(
    ("url", "cluster"),
    [
        ("redis://127.0.0.1:6379/0", False),
        ("rediss://redis.internal:6380/0", False),
        ("redis+cluster://127.0.0.1:7000", True),
        ("rediss+cluster://10.0.0.1:7000,10.0.0.2:7000", True),
    ],
)
def test_a_cluster_is_named_by_its_scheme(url: str, cluster: bool) -> None:
    assert is_cluster(url) is cluster


def test_a_cluster_url_lists_its_start_nodes_and_keeps_the_credentials_on_the_first() -> None:
    first, others = _cluster_nodes("rediss+cluster://ww:secret@10.0.0.1:7000,10.0.0.2:7001,h3")
    assert first == "rediss://ww:secret@10.0.0.1:7000"
    assert others == [("10.0.0.2", 7001), ("h3", 6379)]
