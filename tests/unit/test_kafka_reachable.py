"""kafka.reachable: a command that sends data rides over a broker restart at its start."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from welfare_watch import kafka
from welfare_watch.errors import WelfareWatchError


def _broker_answering_after(failures: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refused(bootstrap: str) -> Exception | None:
        attempts.append(bootstrap)
        return None if len(attempts) > failures else TimeoutError()

    @contextmanager
    def admin(bootstrap: str) -> Iterator[None]:
        yield

    monkeypatch.setattr(kafka, "_refused", refused)
    monkeypatch.setattr(kafka, "admin", admin)
    monkeypatch.setattr(kafka, "_RETRY_EVERY", 0.01)
    return attempts


def test_a_broker_that_comes_back_within_the_wait_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = _broker_answering_after(3, monkeypatch)
    told: list[str] = []
    kafka.reachable("k:9092", wait=30, waiting=lambda: told.append("waiting"))
    assert len(attempts) == 4
    assert told == ["waiting"]  # said once, not per attempt


def test_an_answering_broker_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _broker_answering_after(0, monkeypatch)
    told: list[str] = []
    kafka.reachable("k:9092", wait=30, waiting=lambda: told.append("waiting"))
    assert (len(attempts), told) == (1, [])


def test_past_the_wait_the_one_line_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _broker_answering_after(10**6, monkeypatch)
    with pytest.raises(WelfareWatchError, match=r"cannot reach Kafka at k:9092 \(TimeoutError\)"):
        kafka.reachable("k:9092", wait=0.05)
    assert len(attempts) >= 2


def test_no_wait_tries_once(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _broker_answering_after(10**6, monkeypatch)
    with pytest.raises(WelfareWatchError):
        kafka.reachable("k:9092", wait=0)
    assert len(attempts) == 1


def test_the_probe_takes_any_bootstrap_address_that_listens_and_says_why_none_did() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert kafka._refused(f"127.0.0.1:1, 127.0.0.1:{port}") is None
    assert isinstance(kafka._refused(f"127.0.0.1:{port}"), ConnectionRefusedError)  # closed now
    assert isinstance(kafka._refused("not-an-address"), ValueError)
    assert isinstance(kafka._refused("no-such-host.invalid:9092"), socket.gaierror)
