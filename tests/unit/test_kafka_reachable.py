"""kafka.reachable: a command that sends data rides over a broker restart at its start; and
kafka.create_missing and kafka.delete_everything over a broker just started (not yet
unfenced, its group coordinator still loading)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kafka.admin import NewTopic
from kafka.errors import CoordinatorLoadInProgressError, InvalidReplicationFactorError

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


class FencedBroker:
    """An admin client whose broker refuses to create topics `fenced` times, as a KRaft
    broker does until its controller has unfenced it."""

    def __init__(self, fenced: int, existing: set[str]) -> None:
        self.fenced = fenced
        self.topics = set(existing)
        self.asked: list[list[str]] = []

    def list_topics(self) -> list[str]:
        return sorted(self.topics)

    def create_topics(self, new: list[NewTopic], timeout_ms: int) -> None:
        self.asked.append([t.name for t in new])
        if self.fenced:
            self.fenced -= 1
            raise InvalidReplicationFactorError("All brokers are currently fenced.")
        self.topics |= {t.name for t in new}


def test_topics_are_created_once_a_broker_just_started_is_unfenced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka, "_RETRY_EVERY", 0.01)
    broker = FencedBroker(fenced=2, existing={"ww.facts"})
    kafka.create_missing(broker, {"ww.facts", "ww.recheck", "alerts"}, 4)
    assert broker.topics == {"ww.facts", "ww.recheck", "alerts"}
    assert broker.asked == [["alerts", "ww.recheck"]] * 3  # the missing ones, asked again


def test_a_broker_fenced_for_longer_than_the_wait_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka, "_RETRY_EVERY", 0.01)
    broker = FencedBroker(fenced=1000, existing=set())
    with pytest.raises(InvalidReplicationFactorError):
        kafka.create_missing(broker, {"alerts"}, 4, within=0.05)
    assert 2 <= len(broker.asked) < 1000


class LoadingCoordinator:
    """An admin client whose broker is still loading its group coordinator `loading` times."""

    def __init__(self, loading: int) -> None:
        self.loading = loading
        self.deleted: list[str] = []

    def list_topics(self) -> list[str]:
        return []

    def list_groups(self) -> list[dict[str, str]]:
        if self.loading:
            self.loading -= 1
            raise CoordinatorLoadInProgressError("ListGroupsRequest failed")
        return [{"group_id": "welfare-watch"}, {"group_id": "someone-else"}]

    def delete_groups(self, groups: list[str]) -> None:
        self.deleted += groups


def test_reset_waits_for_a_group_coordinator_still_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = LoadingCoordinator(loading=2)

    @contextmanager
    def admin(bootstrap: str) -> Iterator[LoadingCoordinator]:
        yield broker

    monkeypatch.setattr(kafka, "admin", admin)
    monkeypatch.setattr(kafka, "_RETRY_EVERY", 0.01)
    assert kafka.delete_everything("k:9092") == []
    assert broker.deleted == ["welfare-watch"]
    assert broker.loading == 0
