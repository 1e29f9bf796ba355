"""The embedded Redis Cluster's addresses and configuration, and the record that points every
command at it."""

from __future__ import annotations

from pathlib import Path

import pytest

import stack
from stack import StackError
from stack.lifecycle import services
from stack.redis import RedisAddress
from stack.redis_cluster import (
    RedisCluster,
    cluster_address,
    cluster_url,
    node_conf,
    parse_cluster_info,
    started_nodes,
)
from welfare_watch.settings import Environment, stack_redis_record

DEFAULT_URL = "redis://localhost:6379/0"


@pytest.fixture(autouse=True)
def _no_url_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is under test is a missing WW_REDIS_URL: one exported in the shell must not leak in."""
    monkeypatch.delenv("WW_REDIS_URL", raising=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost:6379/0", RedisAddress("127.0.0.1", 6379)),
        ("redis://127.0.0.1:47379/0", RedisAddress("127.0.0.1", 47379)),
        ("redis+cluster://127.0.0.1:47379", RedisAddress("127.0.0.1", 47379)),
        ("redis+cluster://localhost", RedisAddress("127.0.0.1", 6379)),
        ("redis+cluster://:s3cret@localhost:7000", RedisAddress("127.0.0.1", 7000, "s3cret")),
        ("redis://localhost:55533/0", RedisAddress("127.0.0.1", 55533)),  # last bus port 65535
    ],
)
def test_the_first_node_comes_from_the_url(url: str, expected: RedisAddress) -> None:
    assert cluster_address(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("rediss+cluster://localhost:7000", "no TLS"),
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "named by one node"),
        ("redis+cluster://cache.example.org:7000", "this machine only"),
        ("redis://localhost:55534/0", "port 65536 for its bus"),
    ],
)
def test_a_cluster_the_stack_cannot_run_is_refused_naming_the_url(url: str, complaint: str) -> None:
    with pytest.raises(StackError, match=complaint) as raised:
        cluster_address(url)
    assert f"WW_REDIS_URL is {url!r}" in str(raised.value)


def test_clients_are_given_the_first_node_with_the_password_escaped() -> None:
    assert cluster_url(RedisAddress("127.0.0.1", 47379)) == "redis+cluster://127.0.0.1:47379"
    with_password = cluster_url(RedisAddress("127.0.0.1", 7000, "p@ss:/"))
    assert with_password == "redis+cluster://:p%40ss%3A%2F@127.0.0.1:7000"
    assert cluster_address(with_password).password == "p@ss:/"


def _directives(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split(" ", 1) for line in lines)


def test_a_node_is_the_single_redis_with_cluster_mode_and_its_own_nodes_conf() -> None:
    conf = _directives(node_conf(RedisAddress("127.0.0.1", 47380), Path("/d/47380/data")))
    assert conf["bind"] == "127.0.0.1"
    assert conf["port"] == "47380"
    assert conf["dir"] == '"/d/47380/data"'  # nodes.conf is written there, so it is kept
    assert (conf["appendonly"], conf["appendfsync"]) == ("yes", "everysec")
    assert conf["cluster-enabled"] == "yes"
    assert conf["cluster-config-file"] == "nodes.conf"
    assert conf["set-proc-title"] == "no"  # `down` finds the config path in the command line


def test_three_nodes_on_consecutive_ports_each_in_its_own_directory(tmp_path: Path) -> None:
    env = Environment(redis_url="redis://127.0.0.1:47379/0", data_dir=tmp_path)
    nodes = RedisCluster(env).nodes
    assert [node.address for node in nodes] == [f"127.0.0.1:{p}" for p in (47379, 47380, 47381)]
    assert [node.name for node in nodes] == ["Redis node 1", "Redis node 2", "Redis node 3"]
    assert {node.config.parent for node in nodes} == {
        tmp_path.resolve() / "redis-cluster" / str(p) for p in (47379, 47380, 47381)
    }
    assert nodes[2].ports == {47381: "", 57381: " (its cluster bus)"}  # the bus is checked free
    assert RedisCluster(env).url == "redis+cluster://127.0.0.1:47379"


def test_cluster_info_lines_are_read() -> None:
    info = parse_cluster_info("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n\r\n")
    assert info == {"cluster_state": "ok", "cluster_slots_assigned": "16384"}


def _record(data_dir: Path, url: str) -> None:
    record = stack_redis_record(data_dir)
    record.parent.mkdir(parents=True)
    record.write_text(url + "\n")


def test_without_a_record_the_default_redis_is_used(tmp_path: Path) -> None:
    assert Environment(data_dir=tmp_path).redis_url == DEFAULT_URL


def test_a_recorded_cluster_is_used_when_no_url_is_given(tmp_path: Path) -> None:
    _record(tmp_path, "redis+cluster://127.0.0.1:47379")
    assert Environment(data_dir=tmp_path).redis_url == "redis+cluster://127.0.0.1:47379"
    assert Environment(data_dir=str(tmp_path)).redis_url == "redis+cluster://127.0.0.1:47379"
    other = tmp_path / "elsewhere"
    assert Environment(data_dir=other).redis_url == DEFAULT_URL  # a record is per data dir


def test_an_explicit_url_wins_over_the_record(tmp_path: Path) -> None:
    _record(tmp_path, "redis+cluster://127.0.0.1:47379")
    env = Environment(data_dir=tmp_path, redis_url="redis://10.0.0.5:6379/0")
    assert env.redis_url == "redis://10.0.0.5:6379/0"


def test_an_empty_record_is_no_record(tmp_path: Path) -> None:
    _record(tmp_path, "  ")
    assert Environment(data_dir=tmp_path).redis_url == DEFAULT_URL


def test_the_recorded_cluster_is_what_the_stack_manages(tmp_path: Path) -> None:
    plain = [service.name for service in services(Environment(data_dir=tmp_path))]
    assert plain == ["Kafka", "Redis"]
    _record(tmp_path, "redis+cluster://127.0.0.1:47379")
    recorded = [service.name for service in services(Environment(data_dir=tmp_path))]
    assert recorded == ["Kafka", "Redis node 1", "Redis node 2", "Redis node 3"]


def test_down_forgets_the_cluster_so_later_commands_use_the_default(tmp_path: Path) -> None:
    _record(tmp_path, "redis+cluster://127.0.0.1:47379")
    said: list[str] = []
    stack.down(Environment(data_dir=tmp_path), log=said.append)  # nothing runs: nothing to stop
    assert said == ["Kafka: not running", *(f"Redis node {n}: not running" for n in (1, 2, 3))]
    assert not stack_redis_record(tmp_path).exists()
    assert Environment(data_dir=tmp_path).redis_url == DEFAULT_URL


def test_down_finds_the_nodes_of_any_cluster_started_here(tmp_path: Path) -> None:
    env = Environment(redis_url="redis://127.0.0.1:47379/0", data_dir=tmp_path)
    for node in RedisCluster(env).nodes:
        for path, text in node.files().items():
            path.parent.mkdir(parents=True)
            path.write_text(text)
    found = started_nodes(Environment(data_dir=tmp_path))  # whatever WW_REDIS_URL says now
    assert [node.port for node in found] == [47379, 47380, 47381]
    assert [node.config for node in found] == [node.config for node in RedisCluster(env).nodes]
