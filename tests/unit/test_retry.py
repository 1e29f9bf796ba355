"""Retrying, splitting and dead-lettering a batch (streams.retry, streams.deadletter).

The first test is the issue's stall: before streams.retry, `_until_done` retried a batch holding
`[]` on ww.recheck forever (AttributeError, not caught as bad input), so nothing behind it moved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import aiokafka.errors
import pytest
import redis.exceptions
from faust.exceptions import ProducerSendError
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from alerts.audit import AuditError
from streams.batch import BatchProcessor, Message
from streams.deadletter import DeadLetter, Replay, Stored, describe_error, rows
from streams.retry import BatchRunner, RetryPolicy, is_transient
from tests.stores import Collected, ProgressOnly, unreachable
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Environment, Settings, load_policy

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PERSON = "210105195203140118"


class Sink:
    """The dead-letter sink, kept in memory; `down` sends fail as if Kafka were away."""

    def __init__(self, down: int = 0) -> None:
        self.letters: list[DeadLetter] = []
        self.down = down
        self.begun = 0

    def begin(self) -> None:
        self.begun += 1

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if self.down:
            self.down -= 1
            raise aiokafka.errors.KafkaConnectionError("Unable to bootstrap from 127.0.0.1:4092")
        self.letters.extend(letters)


class Clock:
    """asyncio.sleep and time.monotonic for a runner, without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class Fake:
    """A processor that fails every batch holding a poison value, after `transient` outages."""

    def __init__(self, poison: Sequence[bytes] = (), transient: int = 0) -> None:
        self.poison = set(poison)
        self.transient = transient
        self.done: list[bytes] = []
        self.calls: list[list[bytes]] = []

    async def process(self, messages: Sequence[Message]) -> None:
        self.calls.append([m.value for m in messages])
        if self.transient:
            self.transient -= 1
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:4379.")
        if any(m.value in self.poison for m in messages):
            raise AttributeError("'list' object has no attribute 'get'")
        self.done.extend(m.value for m in messages)


def batch(*values: bytes) -> list[Message]:
    return [
        Message(names.RECHECK, v, 3, 100 + i, PERSON.encode(), (("trace", b"t%d" % i),))
        for i, v in enumerate(values)
    ]


def run(processor: object, messages: list[Message], sink: Sink | None = None) -> Sink:
    sink = sink or Sink()
    clock = Clock()
    runner = BatchRunner(
        processor,  # type: ignore[arg-type]  # a Processor by shape
        sink,
        Metrics(CollectorRegistry()),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        clock=lambda: NOW,
    )
    asyncio.run(runner.run(messages))
    return sink


# --- the stall of the issue, through the real BatchProcessor ---------------------------------


def test_an_empty_list_on_ww_recheck_is_dead_lettered_and_the_rest_of_its_batch_goes_on() -> None:
    """Was: retried forever. The unreadable fact beside it is rejected as before; nothing in
    either message names anyone to load (tests/stores.py)."""
    published, sink = Collected(), Sink()
    settings = Settings(Environment(), load_policy())
    poison = Message(names.RECHECK, b"[]", 2, 17, PERSON.encode(), (("h", b"\x00\xff"),))
    messages = [Message(names.FACTS, b"not json", 0, 1), poison]

    store = ProgressOnly(unreachable())

    async def main() -> None:
        try:
            registry = CollectorRegistry()
            processor = BatchProcessor(store, published, settings, Metrics(registry), lambda: NOW)
            runner = BatchRunner(
                processor, sink, Metrics(CollectorRegistry()), RetryPolicy(backoff=0.01)
            )
            await asyncio.wait_for(runner.run(messages), timeout=10)
        finally:
            await store._redis.aclose()

    asyncio.run(main())
    assert store.progress == {(names.FACTS, 0): 1}  # the poison's is the catch-up's to settle
    assert [r.rejection.source for r in published.rejected] == ["ww.facts/0/1"]
    (letter,) = sink.letters
    assert (letter.topic, letter.partition, letter.offset) == (names.RECHECK, 2, 17)
    assert (letter.key, letter.value, letter.headers) == (
        PERSON.encode(),
        b"[]",
        (("h", b"\x00\xff"),),
    )
    assert letter.kind == "poison"
    assert letter.error == "AttributeError: 'list' object has no attribute 'get'"


# --- transient or not -----------------------------------------------------------------------


class _Model(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"n": PERSON + "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("no error")


def _audit_error_while(cause: BaseException) -> AuditError:
    try:
        try:
            raise cause
        except BaseException:
            raise AuditError("cannot write the audit chain") from None
    except AuditError as exc:
        return exc


def _send_error() -> ProducerSendError:
    try:
        try:
            raise aiokafka.errors.KafkaTimeoutError()
        except aiokafka.errors.KafkaError as exc:
            raise ProducerSendError(f"Error while sending: {exc!r}") from exc
    except ProducerSendError as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
        redis.exceptions.ResponseError("MISCONF Redis is configured to save RDB snapshots"),
        aiokafka.errors.KafkaConnectionError("Unable to bootstrap"),
        aiokafka.errors.KafkaTimeoutError(),
        aiokafka.errors.NotLeaderForPartitionError(),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        _send_error(),  # Faust wraps the Kafka error (raise ... from exc)
        _audit_error_while(redis.exceptions.ConnectionError("refused")),  # `from None`
    ],
    ids=lambda e: type(e).__name__,
)
def test_outages_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        AttributeError("'list' object has no attribute 'get'"),
        RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
        KeyError("person_id"),
        _validation_error(),
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"),
        aiokafka.errors.MessageSizeTooLargeError(),
        _audit_error_while(ValueError("bad draft")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_everything_else_is_deterministic(exc: BaseException) -> None:
    assert not is_transient(exc)


# --- retrying, splitting, dead-lettering -------------------------------------------------


def test_an_outage_is_waited_out_however_long_it_lasts_and_nothing_is_dead_lettered() -> None:
    processor = Fake(transient=60)
    clock = Clock()
    registry = CollectorRegistry()
    runner = BatchRunner(
        processor, Sink(), Metrics(registry), sleep=clock.sleep, monotonic=clock.monotonic
    )
    messages = batch(b"a", b"b")
    asyncio.run(runner.run(messages))
    assert processor.done == [b"a", b"b"]
    assert len(processor.calls) == 61  # never split: an outage is nobody's message's fault
    assert clock.slept[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert max(clock.slept) == 30.0
    labels = {"error": "ConnectionError"}
    assert registry.get_sample_value("welfare_watch_worker_transient_retries_total", labels) == 60


@pytest.mark.parametrize("at", [0, 3, 6, 9])
def test_one_poison_message_is_isolated_and_every_other_one_processed_once_in_order(
    at: int,
) -> None:
    values = [b"m%d" % i for i in range(10)]
    values[at] = b"[]"
    processor = Fake(poison=[b"[]"])
    sink = run(processor, batch(*values))
    assert processor.done == [v for v in values if v != b"[]"]  # once each, in order
    (letter,) = sink.letters
    assert (letter.value, letter.offset, letter.headers) == (
        b"[]",
        100 + at,
        (("trace", b"t%d" % at),),
    )
    # 3 tries of the whole, one of each failing part, 3 of the message alone: bounded
    alone = [c for c in processor.calls if c == [b"[]"]]
    assert len(alone) == 3
    assert len(processor.calls) <= 3 + 2 * 4 + 3


def test_several_poison_messages_each_go_to_the_dead_letter_topic() -> None:
    values = [b"ok1", b"[]", b"null", b"ok2", b"ok3", b'"x"', b"ok4"]
    processor = Fake(poison=[b"[]", b"null", b'"x"'])
    sink = run(processor, batch(*values))
    assert processor.done == [b"ok1", b"ok2", b"ok3", b"ok4"]
    assert [letter.value for letter in sink.letters] == [b"[]", b"null", b'"x"']


def test_a_batch_of_only_poison_and_a_batch_of_one() -> None:
    processor = Fake(poison=[b"[]"])
    assert [x.value for x in run(processor, batch(b"[]", b"[]")).letters] == [b"[]", b"[]"]
    assert [x.value for x in run(processor, batch(b"[]")).letters] == [b"[]"]
    assert processor.done == []


class FlakyOnce:
    """Fails the first time only: retried, never split, nothing dead-lettered."""

    def __init__(self) -> None:
        self.calls = 0

    async def process(self, messages: Sequence[Message]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a race that passes")


def test_an_error_that_passes_on_the_second_try_dead_letters_nothing() -> None:
    processor = FlakyOnce()
    assert run(processor, batch(b"a", b"b")).letters == []
    assert processor.calls == 2


def test_a_dead_letter_is_sent_before_the_batch_returns_even_through_a_kafka_outage() -> None:
    sink = run(Fake(poison=[b"[]"]), batch(b"ok", b"[]"), Sink(down=5))
    assert [letter.value for letter in sink.letters] == [b"[]"]


class Blocked:
    """Stuck in an outage until cancelled (a worker stopping)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def process(self, messages: Sequence[Message]) -> None:
        self.started.set()
        raise redis.exceptions.ConnectionError("refused")


def test_the_oldest_batch_age_grows_while_a_batch_is_stuck_and_is_0_when_idle() -> None:
    registry = CollectorRegistry()
    clock = Clock()
    processor = Blocked()
    seen: list[float | None] = []
    gauge = "welfare_watch_worker_oldest_unprocessed_batch_age_seconds"

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        seen.append(registry.get_sample_value(gauge))
        await asyncio.sleep(0)

    async def main() -> None:
        runner = BatchRunner(
            processor, Sink(), Metrics(registry), sleep=sleep, monotonic=clock.monotonic
        )
        assert registry.get_sample_value(gauge) == 0
        task = asyncio.create_task(runner.run(batch(b"a")))
        while len(seen) < 4:
            await asyncio.sleep(0)
        task.cancel()  # CancelledError passes through: the agent decides what a stop means
        with pytest.raises(asyncio.CancelledError):
            await task
        assert registry.get_sample_value(gauge) == 0

    asyncio.run(main())
    assert seen[:4] == [0.5, 1.5, 3.5, 7.5]


# --- the dead letter's form ---------------------------------------------------------------------


def test_a_dead_letter_keeps_the_original_headers_whole_and_reads_back_the_same() -> None:
    original = (
        ("a", b"1"),
        ("a", b"2"),
        ("ww.dlq.topic", b"not ours"),
        ("bin", b"\x00\xff"),
        ("null", None),
    )
    letter = DeadLetter(
        topic=names.COMMANDS,
        key=None,
        value=b"\x80 not utf-8",
        headers=original,
        partition=5,
        offset=0,
        kind="poison",
        error="RecursionError: maximum recursion depth exceeded",
        at=NOW,
    )
    record = letter.record_headers()
    assert record[: len(original)] == list(original)
    assert DeadLetter.from_record(None, b"\x80 not utf-8", record) == letter
    assert letter.source == "ww.commands/5/0"
    with pytest.raises(ValueError, match="no header"):
        DeadLetter.from_record(None, b"x", [("a", b"1")])


def test_an_error_text_masks_id_numbers_and_never_quotes_a_validation_input() -> None:
    assert describe_error(KeyError(PERSON)) == "KeyError: '210105********0118'"
    text = describe_error(_validation_error())
    assert text.startswith("ValidationError: n: Input should be a valid integer")
    assert PERSON[6:14] not in text
    assert len(describe_error(ValueError("x" * 5000))) == 500


def test_list_marks_replayed_ones_and_a_replay_that_failed_again() -> None:
    def stored(i: int, source_offset: int) -> Stored:
        letter = DeadLetter(
            names.RECHECK, PERSON.encode(), b"[]", (), 1, source_offset, "poison", "E", NOW
        )
        return Stored(i, letter)

    done = {0: Replay("sent", NOW.isoformat(), "ww.recheck/1/50"), 2: Replay("sending", "t")}
    shown = rows([stored(0, 7), stored(1, 50), stored(2, 9), stored(3, 10)], done)
    assert [r.status for r in shown] == [
        "replayed to ww.recheck/1/50",
        "waiting; failed again after replaying #0",
        "replay not confirmed (name its id to send it again)",
        "waiting",
    ]
    assert {r.key for r in shown} == {"210105********0118"}
