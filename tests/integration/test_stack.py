"""The embedded stack for real: install, up, up again, restart with data kept, down.

It runs on its own ports and data directory, so a stack on the default ports is left alone.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

import stack
from stack import ServiceStatus, StackError
from welfare_watch.settings import Environment

pytestmark = pytest.mark.integration

KAFKA_PORT, REDIS_PORT = 19092, 16379


@pytest.fixture(scope="module")
def installed() -> None:
    stack.install(Environment(), log=lambda _: None)  # quick once done: a marker and `which`


@pytest.fixture
def env(installed: None, tmp_path: Path) -> Iterator[Environment]:
    env = Environment(
        kafka_bootstrap=f"localhost:{KAFKA_PORT}",
        redis_url=f"redis://localhost:{REDIS_PORT}/0",
        data_dir=tmp_path / "data",
    )
    yield env
    stack.down(env, log=lambda _: None)


def _by_name(env: Environment) -> dict[str, ServiceStatus]:
    return {service.name: service for service in stack.status(env)}


def _topics() -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", request_timeout_ms=10000)
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


def _create_topic(name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()


def _redis() -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=REDIS_PORT, socket_timeout=5)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_twice_then_down_then_up_keeps_the_data(env: Environment) -> None:
    said: list[str] = []
    stack.up(env, log=said.append, timeout=120)
    assert any("Kafka: formatted" in line for line in said)
    running = _by_name(env)
    assert running["Kafka"].running and running["Redis"].running
    assert running["Kafka"].address == f"127.0.0.1:{KAFKA_PORT}"
    assert running["Redis"].address == f"127.0.0.1:{REDIS_PORT}"
    _create_topic("stack.test")
    with _redis() as client:
        client.set("stack:test", "kept")

    said.clear()
    stack.up(env, log=said.append)  # a second `up` leaves both alone
    assert {name: s.pid for name, s in _by_name(env).items()} == {
        name: s.pid for name, s in running.items()
    }
    assert sum("already running" in line for line in said) == 2

    said.clear()
    stack.down(env, log=said.append)
    stopped = _by_name(env)
    assert not stopped["Kafka"].running and not stopped["Redis"].running
    assert stopped["Kafka"].pid is None
    assert _port_free(KAFKA_PORT) and _port_free(KAFKA_PORT + 1) and _port_free(REDIS_PORT)
    assert not list(env.data_dir.glob("*/*.pid"))
    cluster = (env.data_dir / "kafka/data/meta.properties").read_text()

    said.clear()
    stack.up(env, log=said.append, timeout=120)  # a restart: no second format, data kept
    assert not any("formatted" in line for line in said)
    assert (env.data_dir / "kafka/data/meta.properties").read_text() == cluster
    assert "stack.test" in _topics()
    with _redis() as client:
        assert client.get("stack:test") == b"kept"


def test_down_when_nothing_runs_is_fine(env: Environment) -> None:
    said: list[str] = []
    stack.down(env, log=said.append)
    assert said == ["Kafka: not running", "Redis: not running"]


def test_a_port_taken_by_someone_else_is_named_and_nothing_starts(env: Environment) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        squatter.bind(("127.0.0.1", REDIS_PORT))
        squatter.listen()
        with pytest.raises(StackError) as raised:
            stack.up(env, log=lambda _: None)
        assert (
            _by_name(env)["Redis"].detail
            == f"stopped; port {REDIS_PORT} is in use by another process"
        )
    assert str(raised.value) == (
        f"port {REDIS_PORT} is already in use by another process "
        "(not welfare-watch's Redis); stop it or set WW_REDIS_URL"
    )
    assert not any(service.running for service in stack.status(env))


def test_a_broker_that_dies_at_start_is_reported_with_its_log(env: Environment) -> None:
    stack.up(env, log=lambda _: None, timeout=120)
    stack.down(env, log=lambda _: None)
    meta = env.data_dir / "kafka/data/meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))  # someone else's data

    with pytest.raises(StackError) as raised:
        stack.up(env, log=lambda _: None, timeout=120)
    message = str(raised.value)
    assert message.startswith("Kafka exited during start-up with exit code 1: ")
    assert "node id" in message
    assert message.endswith(f"see {env.data_dir.resolve() / 'kafka/logs/server.log'}")
    assert "\n" not in message
    assert not any(service.running for service in stack.status(env))  # Redis was stopped too
