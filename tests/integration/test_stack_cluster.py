"""`stack up --redis-cluster` for real: three masters, every command on them without a setting,
up again, a restart that keeps the data and the cluster, down.

It runs on its own ports and data directory, so the session's stack is left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.conftest import WW
from welfare_watch import names, redis_client
from welfare_watch.settings import stack_redis_record

pytestmark = pytest.mark.integration

KAFKA_PORT, REDIS_PORT = 47192, 47291
PORTS = (REDIS_PORT, REDIS_PORT + 1, REDIS_PORT + 2)
CLUSTER_URL = f"redis+cluster://127.0.0.1:{REDIS_PORT}"
TOKEN_ID = "0123456789abcdef0123456789abcdef"


class Run:
    """`welfare-watch` with this test's data directory and Kafka, and no WW_REDIS_URL."""

    def __init__(self, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if k != "WW_REDIS_URL"}
        self.env |= {"WW_DATA_DIR": str(data_dir), "WW_KAFKA_BOOTSTRAP": f"127.0.0.1:{KAFKA_PORT}"}

    def __call__(
        self, *args: str, redis_url: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = self.env if redis_url is None else {**self.env, "WW_REDIS_URL": redis_url}
        done = subprocess.run(
            [WW, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"welfare-watch {' '.join(args)} failed:\n{done.stderr}"
        return done

    def up(self) -> str:
        """`stack up --redis-cluster` on this test's ports; what it said."""
        return self(
            "stack", "up", "--redis-cluster", redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0"
        ).stderr


@pytest.fixture(scope="module")
def ww(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    run = Run(tmp_path_factory.mktemp("stack-cluster") / "data")
    yield run
    subprocess.run([WW, "stack", "down"], env=run.env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def first_up(ww: Run) -> str:
    """What the first `stack up --redis-cluster` said."""
    return ww.up()


def _node(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, decode_responses=True)


def _cluster(port: int, what: str) -> Any:
    with _node(port) as client:
        return client.cluster(what)


def _keys(port: int) -> int:
    with _node(port) as client:
        return int(client.dbsize())


def _pids(run: Run) -> dict[str, str]:
    lines = run("stack", "status").stdout.splitlines()
    return {
        line[:12].strip(): line.split(" pid ")[1].split()[0] for line in lines if " pid " in line
    }


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_makes_three_masters_covering_every_slot(ww: Run, first_up: str) -> None:
    assert "Redis Cluster: created, 3 masters sharing 16384 slots" in first_up
    for port in PORTS:
        info = _cluster(port, "INFO")
        assert info["cluster_state"] == "ok"
        assert (info["cluster_known_nodes"], info["cluster_size"]) == ("3", "3")  # 3 masters
        assert info["cluster_slots_assigned"] == info["cluster_slots_ok"] == "16384"
        with _node(port) as client:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert stack_redis_record(Path(ww.env["WW_DATA_DIR"])).read_text().strip() == CLUSTER_URL
    assert set(_pids(ww)) == {"Kafka", "Redis node 1", "Redis node 2", "Redis node 3"}


def test_up_again_with_or_without_the_flag_changes_nothing(ww: Run, first_up: str) -> None:
    before = _pids(ww)
    again = ww.up()
    assert again.count("already running") == 4 and "created" not in again
    plain = ww("stack", "up").stderr  # no flag, no WW_REDIS_URL: the recorded cluster
    assert plain.count("already running") == 4 and "Redis: " not in plain
    assert _pids(ww) == before


def test_commands_without_a_url_use_the_cluster(ww: Run, first_up: str) -> None:
    ww("token", "revoke", TOKEN_ID)
    with redis_client.connect(CLUSTER_URL) as cluster:
        assert cluster.sismember(names.REVOKED_TOKENS, TOKEN_ID)
        for n in range(60):  # people spread over the slots, so every master holds some
            cluster.set(f"{names.PREFIX}{{p:{n}}}:test", "x")
    held = [_keys(port) for port in PORTS]
    assert all(held)

    said = ww("reset", "--yes").stdout
    # every key, on every master, but the revoked tokens: a token stays revoked
    assert f"{sum(held) - 1} Redis keys deleted (revoked tokens kept)" in said
    assert sum(_keys(port) for port in PORTS) == 1
    with redis_client.connect(CLUSTER_URL) as cluster:
        assert cluster.sismember(names.REVOKED_TOKENS, TOKEN_ID)

    for url, says in [
        ("redis://127.0.0.1:1/0", "cannot reach Redis at redis://127.0.0.1:1/0"),
        ("redis+cluster://127.0.0.1:1", "cannot reach the Redis Cluster at redis+cluster://"),
    ]:  # an explicit URL wins over the record
        refused = subprocess.run(
            [WW, "alerts", "list"],
            env={**ww.env, "WW_REDIS_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"welfare-watch: {says}"), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_down_stops_every_node_and_a_restart_keeps_data_and_cluster(ww: Run, first_up: str) -> None:
    with redis_client.connect(CLUSTER_URL) as cluster:
        cluster.set(f"{names.PREFIX}{{p:kept}}:test", "kept")
    node_ids = [_cluster(port, "MYID") for port in PORTS]
    data_dir = Path(ww.env["WW_DATA_DIR"])

    ww("stack", "down")
    assert all(_port_free(port) and _port_free(port + 10000) for port in PORTS)
    assert _pids(ww) == {}
    assert not stack_redis_record(data_dir).exists()

    said = ww.up()
    assert "created" not in said  # nodes.conf kept: the same cluster, not a new one
    assert [_cluster(port, "MYID") for port in PORTS] == node_ids
    assert all(_cluster(port, "INFO")["cluster_state"] == "ok" for port in PORTS)
    with redis_client.connect(CLUSTER_URL) as cluster:
        assert cluster.get(f"{names.PREFIX}{{p:kept}}:test") == b"kept"
