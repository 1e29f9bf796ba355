"""Pid files, ports, detached processes and what their logs say when they fail."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import StackError
from stack.process import (
    accepts,
    alive,
    exit_code,
    held_by_ended_connections,
    is_ours,
    last_meaningful,
    log_sizes,
    loopback_host,
    new_lines,
    port_free,
    read_pid,
    running_pid,
    shorten,
    spawn,
    stop,
    wait_port_free,
)

KAFKA_BIND_FAILURE = [
    "[2026-11-28 13:11:52,301] INFO [BrokerServer id=1] Starting socket server (kafka.server)",
    "[2026-11-28 13:11:52,310] ERROR [BrokerServer id=1] Fatal error during broker startup.",
    "org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:19092: "
    "Address already in use.",
    "\tat kafka.network.Acceptor.openServerSocket(SocketServer.scala:745)",
    "\tat kafka.network.Acceptor.<init>(SocketServer.scala:620)",
    "Caused by: java.net.BindException: Address already in use",
    "\tat java.base/sun.nio.ch.Net.bind0(Native Method)",
    "\t... 17 more",
    "[2026-11-28 13:11:52,330] INFO [BrokerServer id=1] shut down completed (kafka.server)",
]

REDIS_BIND_FAILURE = [
    "9:M 28 Nov 2026 13:11:44.780 # Warning: Could not create server TCP listening socket "
    "127.0.0.1:16379: bind: Address already in use",
    "9:M 28 Nov 2026 13:11:44.780 # Failed listening on port 16379 (TCP), aborting.",
]

JVM_FAILURE = [
    "Error: Could not find or load main class kafka.Kafka",
    "Caused by: java.lang.ClassNotFoundException: kafka.Kafka",
]


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (KAFKA_BIND_FAILURE, "Caused by: java.net.BindException: Address already in use"),
        (REDIS_BIND_FAILURE, REDIS_BIND_FAILURE[-1]),
        (JVM_FAILURE, "Caused by: java.lang.ClassNotFoundException: kafka.Kafka"),
        (["", "  "], None),
    ],
)
def test_last_meaningful_line_names_the_cause(log: list[str], expected: str | None) -> None:
    assert last_meaningful(log) == expected


def test_shorten_keeps_the_clauses_that_name_the_cause() -> None:
    line = "Failed to execute goal: " + "x" * 300 + ": Connect to host failed: Connection refused"
    assert shorten(line) == "…Connect to host failed: Connection refused"
    sentence = "Stored node id 7 doesn't match previous node id 1. " * 10
    assert shorten(sentence).startswith("Stored node id 7 doesn't match")
    assert len(shorten(sentence)) == 240
    assert shorten("\x1b[0mshort\x1b[0m") == "short"


@pytest.mark.parametrize(
    ("host", "bound"), [("localhost", "127.0.0.1"), ("127.0.0.5", "127.0.0.5")]
)
def test_loopback_hosts_are_served(host: str, bound: str) -> None:
    assert loopback_host(host, "WW_X", host) == bound


@pytest.mark.parametrize("host", ["0.0.0.0", "::1", "example.org", "192.168.1.4"])
def test_other_hosts_are_refused_naming_the_setting(host: str) -> None:
    with pytest.raises(StackError, match=r"WW_X is .* this machine only"):
        loopback_host(host, "WW_X", f"{host}:1")


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_port_is_taken_and_accepts(listening: int) -> None:
    assert not port_free("127.0.0.1", listening)
    assert accepts("127.0.0.1", listening)


def test_a_port_held_only_by_an_ended_connection_is_told_apart_from_a_listener(
    listening: int,
) -> None:
    """A client's ephemeral port in TIME_WAIT blocks a listener for up to a minute: `up` waits
    for it rather than blaming another process (on a busy machine, Redis's bus ports hit this)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        port = client.getsockname()[1]
        accepted, _ = server.accept()
        client.close()  # the side that closes first keeps its port in TIME_WAIT
        accepted.close()
    deadline = time.monotonic() + 5
    while not held_by_ended_connections(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held_by_ended_connections(port)
    assert not port_free("127.0.0.1", port)
    assert not held_by_ended_connections(listening)
    assert not wait_port_free("127.0.0.1", listening, timeout=5)  # a listener: no waiting


def test_a_closed_port_is_free_and_refuses() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port_free("127.0.0.1", port)
    assert not accepts("127.0.0.1", port)


def test_read_pid(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("not a pid\n")
    assert read_pid(tmp_path / "bad.pid") is None
    (tmp_path / "ok.pid").write_text("1234\n")
    assert read_pid(tmp_path / "ok.pid") == 1234


def _wait_for(output: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while not (output.exists() and text in output.read_text()):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {output}"
        time.sleep(0.02)


def test_spawned_process_is_ours_detached_and_stops(tmp_path: Path) -> None:
    marker = tmp_path / "service.conf"
    output = tmp_path / "logs" / "out.log"
    script = "import sys, time; print('up', sys.argv[1], flush=True); time.sleep(60)"
    pid = spawn([sys.executable, "-c", script, str(marker)], output)
    (tmp_path / "service.pid").write_text(f"{pid}\n")
    try:
        _wait_for(output, f"up {marker}")  # its stdout goes to the log
        assert is_ours(pid, marker)
        assert not is_ours(pid, tmp_path / "other.conf")
        assert not is_ours(os.getpid(), marker)
        assert running_pid(tmp_path / "service.pid", marker) == pid
        assert os.getsid(pid) == pid  # its own session: a Ctrl-C on `up` does not reach it
    finally:
        assert stop([pid], grace=5) == set()
    assert not alive(pid)
    assert exit_code(pid) == -15  # ended by our SIGTERM and reaped: no zombie left
    assert running_pid(tmp_path / "service.pid", marker) is None


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    output = tmp_path / "out.log"
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('deaf', flush=True); time.sleep(60)"
    )
    pid = spawn([sys.executable, "-c", script], output)
    _wait_for(output, "deaf")
    assert stop([pid], grace=0.5) == {pid}
    assert not alive(pid)
    assert exit_code(pid) == -9


@pytest.mark.skipif(platform.machine() != "x86_64", reason="exit(2) called by its x86-64 number")
def test_the_exit_code_of_a_process_whose_threads_outlive_its_main_thread(tmp_path: Path) -> None:
    """A JVM that fails at start-up shows as a zombie while its other threads still exit; the
    exit code comes once they have (it said "exited during start-up" without it, once in CI)."""
    output = tmp_path / "out.log"
    script = (
        "import ctypes, os, threading, time\n"
        "def last(): time.sleep(0.5); os._exit(3)\n"
        "threading.Thread(target=last).start()\n"
        "print('leaving', flush=True)\n"
        "ctypes.CDLL(None).syscall(60, 0)\n"  # exit(2) of the main thread alone (x86-64)
    )
    pid = spawn([sys.executable, "-c", script], output)
    _wait_for(output, "leaving")
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(pid)  # a zombie, its other thread still sleeping
    assert exit_code(pid) is None
    assert exit_code(pid, wait=5) == 3


def test_new_lines_are_only_those_written_since_measured(tmp_path: Path) -> None:
    old, new = tmp_path / "old.log", tmp_path / "new.log"
    old.write_text("an earlier run failed\n")
    sizes = log_sizes([old, new])
    with old.open("a") as handle:
        handle.write("this run\n")
    new.write_text("fresh\n")
    assert new_lines(sizes) == ["this run", "fresh"]
