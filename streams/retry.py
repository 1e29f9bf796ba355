"""A batch is retried until it is done, and one bad message never holds up the rest.

The agent hands each batch it takes from Kafka to `BatchRunner.run`, and acknowledges the batch
(so its offsets may be committed) only when `run` returns. `run` returns only when every message
of the batch has been processed or put on ww.deadletter:

- A **transient** error — Redis or Kafka unreachable, timing out, loading its data, read-only,
  out of memory or refusing writes, any OSError — is not the messages' fault: the batch is
  retried with back-off (0.5 s doubling to 30 s), for as long as it takes.
- **Anything else** is retried a few times (`RetryPolicy.attempts`: a rare race gets a second
  chance), then the batch is split in two and each half processed in order, halves that fail
  split again, until the message that fails alone is found. It is retried alone
  `attempts` times more, then put on ww.deadletter whole (streams.deadletter), and the rest of
  the batch goes on. Order is kept: each half is done before the next one starts.

Every message of a split batch is processed exactly as it would have been in the whole batch;
what changes is only that it is saved in a smaller batch. A person whose message was
dead-lettered has their later messages processed without it: `welfare-watch deadletter replay`
puts it back at the end of its partition once its cause is fixed.

The gauge `welfare_watch_worker_oldest_unprocessed_batch_age_seconds` is the age of the batch in
flight (0 when idle): it grows while an outage is waited out, so an alert on it catches a stall.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiokafka.errors
import kafka.errors
import redis.exceptions

from connectors.ids import mask_id
from streams.batch import Message
from streams.deadletter import DeadLetter, DeadLetterSink, describe_error
from streams.offsets import Gap
from welfare_watch.metrics import Metrics

log = logging.getLogger("welfare_watch.worker")

# Redis errors that pass: the server is down, slow, loading its data after a restart, a replica
# that is read-only, out of memory, or refusing writes until its disk works again.
_REDIS_TRANSIENT: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # also BusyLoadingError and MaxConnectionsError
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
)
# Replies redis-py raises as a plain ResponseError that are about the server, not the command.
_REDIS_TRANSIENT_REPLIES = ("MISCONF", "NOREPLICAS", "LOADING", "READONLY", "MASTERDOWN", "OOM")
_KAFKA_TRANSIENT: tuple[type[BaseException], ...] = (
    aiokafka.errors.KafkaConnectionError,
    aiokafka.errors.KafkaTimeoutError,
    aiokafka.errors.RequestTimedOutError,
    kafka.errors.KafkaConnectionError,
    kafka.errors.KafkaTimeoutError,
)
_KAFKA_ERRORS: tuple[type[BaseException], ...] = (
    aiokafka.errors.KafkaError,
    kafka.errors.KafkaError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from or while handling, is one that passes.

    Wrapping is common (Faust's ProducerSendError `from` the Kafka error; AuditError raised
    `from None` while handling a Redis error, which keeps it as __context__), so the whole chain
    is looked at."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            if current.exceptions and all(is_transient(e) for e in current.exceptions):
                return True
        elif _transient_itself(current):
            return True
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, _REDIS_TRANSIENT + _KAFKA_TRANSIENT + (OSError,)):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        return str(exc).startswith(_REDIS_TRANSIENT_REPLIES)
    if isinstance(exc, _KAFKA_ERRORS):
        return bool(getattr(exc, "retriable", False))  # leader moved, broker not ready...
    return False


class Processor(Protocol):
    async def process(self, messages: Sequence[Message]) -> object: ...


class Progress(Protocol):
    """What the store lacks of the input, and reading it again (streams/catchup.py)."""

    async def missing(self, messages: Sequence[Message]) -> list[Gap]: ...

    async def lost(self, assigned: Iterable[tuple[str, int]]) -> list[Gap]: ...

    def done(self, messages: Sequence[Message]) -> None: ...

    async def settle(self, message: Message) -> None: ...

    def read(self, gap: Gap) -> AsyncIterator[list[Message]]: ...


class BatchSink(DeadLetterSink, Protocol):
    def begin(self) -> None:
        """A new batch starts (see FaustDeadLetters)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries of a whole batch, and of one message alone, before giving up on it
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_backoff: float = 30.0


class BatchRunner:
    """Runs batches through a processor: retries, splits, dead-letters (see the module)."""

    def __init__(
        self,
        processor: Processor,
        deadletters: BatchSink,
        metrics: Metrics,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        progress: Progress | None = None,  # None: Kafka's commit is trusted (unit tests)
    ) -> None:
        self._processor = processor
        self._progress = progress
        self._lock = asyncio.Lock()  # one batch at a time: the agent's, or a catch-up's
        self._deadletters = deadletters
        self._metrics = metrics
        self._policy = policy
        self._sleep = sleep
        self._monotonic = monotonic
        self._clock = clock
        self._taken: float | None = None
        metrics.oldest_batch_age.set_function(self.age)

    def age(self) -> float:
        """Seconds since the batch in flight was taken; 0 when there is none."""
        taken = self._taken
        return 0.0 if taken is None else max(0.0, self._monotonic() - taken)

    async def run(self, messages: Sequence[Message]) -> None:
        """Return once every message is processed or dead-lettered; CancelledError passes.
        What the store lacks before them (streams/catchup.py) is processed first."""
        async with self._lock:
            self._taken = self._monotonic()
            self._deadletters.begin()
            try:
                await self._batch(messages, catch_up=True)
            finally:
                self._taken = None

    async def recover(self, assigned: Iterable[tuple[str, int]]) -> int:
        """Process again what this worker saw saved but the store lost since (Redis came back
        without its last writes), for partitions with no batch to notice it; the count."""
        if self._progress is None:
            return 0
        async with self._lock:
            self._taken = self._monotonic()
            try:
                return await self._read_again(await self._progress.lost(assigned))
            finally:
                self._taken = None

    async def _batch(self, messages: Sequence[Message], *, catch_up: bool) -> None:
        error = await self._attempt(messages, self._policy.attempts, catch_up=catch_up)
        if error is not None:
            await self._isolate(list(messages), error)

    async def _read_again(self, gaps: Sequence[Gap]) -> int:
        """Process each gap's messages as batches of their own, before anything after them."""
        assert self._progress is not None
        count = 0
        for gap in gaps:
            async for chunk in self._progress.read(gap):
                self._deadletters.begin()
                await self._batch(chunk, catch_up=False)  # contiguous from the store's point
                count += len(chunk)
        if count:
            self._metrics.read_again.inc(count)
        return count

    async def _attempt(
        self, messages: Sequence[Message], attempts: int, *, catch_up: bool = False
    ) -> Exception | None:
        """None once processed; the error once it has failed `attempts` times. Transient
        errors do not count: they are waited out. With `catch_up`, what the store lacks
        before the batch is processed first, looked at again on every try (Redis may have
        come back without its last writes while this batch waited)."""
        failures = 0
        backoff = self._policy.backoff
        while True:
            try:
                if catch_up and self._progress is not None:
                    await self._read_again(await self._progress.missing(messages))
                await self._processor.process(messages)
                if self._progress is not None:
                    self._progress.done(messages)
                return None
            except Exception as exc:  # CancelledError is a BaseException: it passes
                error = describe_error(exc)
                if is_transient(exc):
                    self._metrics.transient_retries.labels(type(exc).__name__).inc()
                    log.warning(
                        "batch of %d: %s; Redis or Kafka unavailable, retrying in %.1fs",
                        len(messages),
                        error,
                        backoff,
                    )
                else:
                    failures += 1
                    log.error(
                        "batch of %d failed (%s), attempt %d of %d",
                        len(messages),
                        error,
                        failures,
                        attempts,
                    )
                    if failures >= attempts:
                        return exc
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._policy.max_backoff)

    async def _isolate(self, messages: list[Message], error: Exception) -> None:
        """Split a batch that keeps failing until the failing message is alone."""
        if len(messages) == 1:
            await self._dead_letter(messages[0], error)
            return
        log.warning("splitting a failing batch of %d to find the message that fails", len(messages))
        middle = len(messages) // 2
        for part in (messages[:middle], messages[middle:]):
            # A part is tried once (the whole batch already failed repeatedly); a message
            # alone gets the full number of tries before it is dead-lettered.
            attempts = self._policy.attempts if len(part) == 1 else 1
            failed = await self._attempt(part, attempts)
            if failed is not None:
                await self._isolate(part, failed)

    async def _dead_letter(self, message: Message, error: Exception) -> None:
        letter = DeadLetter(
            topic=message.topic,
            key=message.key,
            value=message.value,
            headers=message.headers,
            partition=message.partition if message.offset is not None else None,
            offset=message.offset,
            kind="poison",
            error=describe_error(error),
            at=self._clock(),
        )
        # never acknowledged before it is on ww.deadletter
        await self._until_done(lambda: self._deadletters.send([letter]), message, "dead-letter")
        if self._progress is not None:  # before the batch's next part checks what is missing
            progress = self._progress
            await self._until_done(lambda: progress.settle(message), message, "settle")
        self._metrics.dead_letters.labels(message.topic, "poison").inc()
        key = "-" if message.key is None else mask_id(message.key.decode(errors="replace"))
        log.error("dead-lettered %s (key %s): %s", message.source, key, letter.error)

    async def _until_done(
        self, step: Callable[[], Awaitable[object]], message: Message, what: str
    ) -> None:
        backoff = self._policy.backoff
        while True:
            try:
                await step()
                return
            except Exception as exc:
                log.error(
                    "cannot %s %s (%s); retrying in %.1fs",
                    what,
                    message.source,
                    describe_error(exc),
                    backoff,
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._policy.max_backoff)
