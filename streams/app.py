"""The Faust app and its one agent: batches of worker input through the BatchProcessor."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import faust
import redis.asyncio as aioredis

from alerts.audit import AuditLog
from alerts.model import Alert
from connectors.ids import redact
from streams.abandoned import abandoned, end_marker
from streams.batch import BatchProcessor, Message, Rejected
from streams.store import PersonStore
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Settings

log = logging.getLogger("welfare_watch.worker")

_MAX_BACKOFF = 30.0


class FaustPublisher:
    """Publishes alert changes and rejections, and waits until Kafka has them."""

    def __init__(self, alerts: Any, rejected: Any) -> None:
        self._alerts = alerts
        self._rejected = rejected

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
    app = faust.App(
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
    )
    inputs = app.topic(*names.WORKER_INPUTS, value_serializer="raw", key_serializer="raw")
    publisher = FaustPublisher(app.topic(names.ALERTS), app.topic(names.REJECTED))
    redis = aioredis.from_url(settings.env.redis_url)
    store = PersonStore(redis)
    audit = AuditLog.for_settings(settings, redis)
    processor = BatchProcessor(store, publisher, settings, metrics or Metrics(), audit=audit)

    @app.timer(settings.policy.scan.check_every, on_leader=True)  # type: ignore[untyped-decorator]
    async def daily_scan() -> None:
        """The time-based rules once a day, on one worker only (the group's leader)."""
        from streams.scan import run_daily_scan_if_due

        now = dt.datetime.now()  # daily_at is in the worker's local time
        queued = await asyncio.get_running_loop().run_in_executor(
            None, run_daily_scan_if_due, settings, now
        )
        if queued is not None:
            log.info("daily scan: %d people queued", queued)

    facts = app.topic(names.FACTS, value_serializer="raw", key_serializer="raw")

    @app.timer(worker.abandon_check_every, on_leader=True)  # type: ignore[untyped-decorator]
    async def end_abandoned_deliveries() -> None:
        """End, on their sender's behalf, deliveries that stopped before their end marker."""
        now = dt.datetime.now(dt.UTC).timestamp()
        quiet = abandoned(await store.pending_deliveries(), now, worker.abandon_after)
        for pending in quiet:
            await facts.send(value=end_marker(pending), partition=pending.partition)
        if quiet:
            log.warning("ended %d abandoned deliveries (no end marker came)", len(quiet))

    @app.agent(inputs, name="join")
    async def join(stream: Any) -> None:
        async for events in stream.take_events(worker.batch_size, within=worker.batch_within):
            messages = [
                Message(e.message.topic, e.value, e.message.partition, e.message.offset)
                for e in events
            ]
            await _until_done(processor, messages)

    return app


async def _until_done(processor: BatchProcessor, messages: list[Message]) -> None:
    """Retry a batch until it is processed: raising would ack the batch and lose it."""
    backoff = 0.5
    while True:
        try:
            await processor.process(messages)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broker or Redis restart, or a bug: retry, never skip
            log.error(
                "batch of %d failed (%s: %s); retrying in %.1fs",
                len(messages),
                type(exc).__name__,
                redact(str(exc)),
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)
