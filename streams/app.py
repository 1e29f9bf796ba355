"""The Faust app and its one agent: batches of worker input through the BatchProcessor."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import faust

from alerts.audit import AuditLog
from alerts.model import Alert
from connectors.ids import redact
from streams.abandoned import end_quiet
from streams.batch import BatchProcessor, Message, Recheck, Rejected
from streams.catchup import CatchUp, KafkaGapReader
from streams.deadletter import FaustDeadLetters
from streams.outbox import start_relay
from streams.producer import WorkerApp
from streams.retry import BatchRunner
from streams.store import PersonStore
from welfare_watch import names, redis_client, security
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Settings

log = logging.getLogger("welfare_watch.worker")

RECOVER_EVERY = 5.0  # seconds between looks at whether the store lost what was processed
_STOP_POLL = 0.25  # seconds between looks at whether the worker is stopping, while a batch runs
# Messages faust may hold for the agent. When its buffer is 80 % full, faust stops fetching the
# partition, and once no partition is fetched its fetcher sleeps a whole second
# (Consumer._wait_next_records); faust's default, 4,096, is reached by a backlog of 2 s at the
# latency benchmark's 2,000 events/s, and each such pause makes the backlog longer
# (bench/RESULTS.md, session 8). The buffer only fills while the worker is behind; the
# benchmark's worker peak memory includes it.
STREAM_BUFFER = 32_768

TimerBody = Callable[[], Coroutine[Any, Any, None]]


class FaustPublisher:
    """Publishes alert changes, rejections, re-checks and the end markers of the sets that
    waited for a roster snapshot, and waits until Kafka has them."""

    def __init__(self, alerts: Any, rejected: Any, recheck: Any, roster: Any) -> None:
        self._alerts = alerts
        self._rejected = rejected
        self._recheck = recheck
        self._roster = roster

    async def roster_markers(self, markers: Sequence[tuple[int, bytes]]) -> None:
        pending = [
            await self._roster.send(value=value, partition=partition, force=True)
            for partition, value in markers
        ]
        await asyncio.gather(*pending)

    async def recheck(self, rechecks: Sequence[Recheck]) -> None:
        pending = [
            await self._recheck.send(
                key=r.person_id.encode(), value=r.as_json(), force=True
            )  # keyed by the person: their partition, their worker
            for r in rechecks
        ]
        await asyncio.gather(*pending)

    async def publish(self, alerts: Sequence[Alert], rejected: Sequence[Rejected]) -> None:
        now = dt.datetime.now(dt.UTC)
        pending = []
        for alert in alerts:
            # force=True sends now instead of attaching the message to the source offset.
            pending.append(
                await self._alerts.send(
                    key=alert.alert_id.encode(), value=alert.model_dump_json().encode(), force=True
                )
            )
        for item in rejected:
            pending.append(await self._rejected.send(value=item.as_json(now), force=True))
        await asyncio.gather(*pending)


def create_app(settings: Settings, metrics: Metrics | None = None) -> faust.App:
    worker = settings.policy.worker
    app = WorkerApp(  # acks=all and idempotence for everything the worker produces
        names.WORKER_GROUP,
        broker=f"kafka://{settings.env.kafka_bootstrap}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=worker.partitions,
        broker_commit_interval=0.5,
        broker_session_timeout=10.0,  # a crashed worker's partitions move on within 10s
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        stream_buffer_maxsize=STREAM_BUFFER,
        broker_credentials=security.faust_credentials(settings.env),  # SASL/TLS, or None
    )
    inputs = app.topic(*names.WORKER_INPUTS, value_serializer="raw", key_serializer="raw")
    roster = app.topic(names.ROSTER_CHANGES, value_serializer="raw", key_serializer="raw")
    publisher = FaustPublisher(
        app.topic(names.ALERTS), app.topic(names.REJECTED), app.topic(names.RECHECK), roster
    )
    redis = redis_client.connect_async(settings.env.redis_url)
    store = PersonStore(redis, worker.partitions)
    audit = AuditLog.for_settings(settings, redis)
    metrics = metrics or Metrics()
    deadletters = FaustDeadLetters(app.topic(names.DEADLETTER))  # streams/deadletter.py
    processor = BatchProcessor(
        store, publisher, settings, metrics, audit=audit, deadletters=deadletters
    )
    # the store, not Kafka's commit, says what is done: what it lacks is read again first
    catch_up = CatchUp(store, KafkaGapReader(settings.env.kafka_bootstrap))
    runner = BatchRunner(processor, deadletters, metrics, progress=catch_up)  # retry, split, DLQ
    start_relay(app, redis, settings.env.kafka_bootstrap)  # saved alerts: outbox → `alerts`

    grace = StopGrace(app, worker.stop_grace)

    @timer(app, settings.policy.scan.check_every, on_leader=True)
    async def daily_scan() -> None:
        """The time-based rules once a day, on one worker at a time (see streams.scan)."""
        from streams.scan import run_daily_scan_if_due

        now = dt.datetime.now()  # daily_at is in the worker's local time
        started = time.monotonic()
        queued = await asyncio.get_running_loop().run_in_executor(
            None, run_daily_scan_if_due, settings, now, lambda: app.should_stop
        )
        if queued is not None:
            metrics.scan_seconds.observe(time.monotonic() - started)
            log.info("daily scan: %d people queued", queued)

    facts = app.topic(names.FACTS, value_serializer="raw", key_serializer="raw")

    @timer(app, worker.abandon_check_every, on_leader=True)
    async def end_abandoned_deliveries() -> None:
        """End, on their sender's behalf, deliveries that stopped before their end marker."""
        now = dt.datetime.now(dt.UTC).timestamp()
        quiet, gone = await end_quiet(
            store, facts, roster, worker.partitions, now, worker.abandon_after
        )
        if quiet:
            log.warning("ended %d abandoned deliveries (no end marker came)", quiet)
        if gone:
            log.warning("ended %d abandoned roster snapshots (no end marker came)", gone)

    @timer(app, RECOVER_EVERY)
    async def recover_lost_saves() -> None:
        """A partition with no new batch would not notice that Redis came back without its
        last writes: compare the store with what this worker processed, and read it again."""
        assigned = [(tp.topic, tp.partition) for tp in app.consumer.assignment()]
        if count := await runner.recover(assigned):
            log.warning("read %d messages again that the store had lost", count)

    @app.agent(inputs, name="join")
    async def join(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, within=worker.batch_within):
            messages = [
                Message(
                    e.message.topic,
                    e.value,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    tuple(e.message.headers or ()),
                    e.message.timestamp,  # seconds
                )
                for e in events
            ]
            # returns once each is processed or dead-lettered; on stop, see StopGrace
            await grace.run(runner.run(messages))

    return app


def timer(
    app: faust.App, seconds: float, *, on_leader: bool = False
) -> Callable[[TimerBody], TimerBody]:
    """`@app.timer`, exception-safe: declare every timer of the worker with this."""

    def declare(body: TimerBody) -> TimerBody:
        app.timer(seconds, on_leader=on_leader)(exception_safe(body))
        return body

    return declare


def exception_safe(body: TimerBody) -> TimerBody:
    """A timer body that logs a failure (masked) and waits for its next turn.

    Faust runs a timer bare (faust/app/base.py, `around_timer`): an exception from it crashes
    the app (mode/services.py, `_execute_task`), which stops the worker mid-batch."""

    @functools.wraps(body)
    async def guarded() -> None:
        try:
            await body()
        except Exception as exc:  # a Redis or Kafka blip, or a bug: the next turn tries again
            log.error(
                "timer %s failed (%s: %s); it runs again at its next turn",
                body.__name__,
                type(exc).__name__,
                redact(str(exc)),
            )

    return guarded


class StopGrace:
    """Lets a stopping worker finish the batch in flight, within `stop_grace` seconds in all,
    and never lets the consumer commit a batch that was not saved.

    Faust cancels the agent when it stops (after no grace: mode's `_default_stop_futures`
    waits 0 s), at once when the app crashed; the cancel leaves `take_events`, whose `finally`
    acks the batch it yielded, and the consumer commits what is acked on stop. So a batch runs
    as a task of its own, which the cancel does not reach, and the agent waits for it. If it is
    still not saved when the grace is over, every message not yet acked is marked settled
    without an ack (`acked`, the flag the ack path tests first), so no commit covers it or
    anything after it in its partition: it is read again when the partition is next assigned.
    A batch that fails (raises instead of returning) is held back the same way before its
    error leaves the agent.
    """

    def __init__(self, app: faust.App, seconds: float) -> None:
        self._app = app
        self._seconds = seconds
        self._deadline: float | None = None  # set once the worker is seen stopping

    async def run(self, batch: Awaitable[None]) -> None:
        task = asyncio.ensure_future(batch)
        loop = asyncio.get_running_loop()
        cancelled = False
        while not task.done():
            if self._deadline is None and (cancelled or self._app.should_stop):
                self._deadline = loop.time() + self._seconds
            wait = _STOP_POLL
            if self._deadline is not None:
                wait = min(wait, self._deadline - loop.time())
            if wait <= 0:  # the grace is over and the batch is not saved
                self._hold_back(f"was not saved within stop_grace ({self._seconds:g}s)")
                task.cancel()  # whatever it saved is saved again, to the same effect, on replay
                await asyncio.wait({task}, timeout=1.0)
                if not cancelled:  # the stop has not reached the agent yet: wait for it
                    await asyncio.Event().wait()
                raise asyncio.CancelledError
            try:
                await asyncio.wait({task}, timeout=wait)
            except asyncio.CancelledError:
                cancelled = True  # the batch goes on; the loop above bounds the wait
        if task.cancelled() or task.exception() is not None:
            self._hold_back("failed")  # the ack on the agent's way out must not cover it
        if cancelled:
            raise asyncio.CancelledError
        task.result()

    def _hold_back(self, why: str) -> None:
        held = 0
        for message in list(self._app.consumer.unacked):
            if not message.acked:
                message.acked = True  # settled, never acked: the consumer commits none of it
                held += 1
        log.warning(
            "the batch in flight %s; %d messages left uncommitted, to be read again", why, held
        )
