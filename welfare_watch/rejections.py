"""Rejected records counted where every way in meets: the dept.rejected topic.

A connector (command line, file drop, HTTP, dept.FEED.raw) and the worker each send a record
they cannot use to dept.rejected. One consumer group counts them per feed, in the process that
serves the metrics (the web app): welfare_watch_records_rejected_total, and the rejected part of
welfare_watch_records_received_total. A restart goes on from the group's last commit (at most
the last few seconds are counted twice); a new group starts at the topic's beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from welfare_watch import kafka, names, security
from welfare_watch.errors import WelfareWatchError
from welfare_watch.metrics import Metrics

log = logging.getLogger(__name__)

GROUP = f"{names.WORKER_GROUP}-rejections"
RETRY_SECONDS = 5.0


def feed_of(value: bytes | None) -> str | None:
    """The feed a dept.rejected message names; None for one that names none (a roster change
    the worker could not read) or that is not JSON."""
    try:
        body = json.loads(value or b"")
    except ValueError:
        return None
    feed = body.get("feed") if isinstance(body, dict) else None
    return feed if isinstance(feed, str) and feed else None


def count(metrics: Metrics, value: bytes | None) -> None:
    feed = feed_of(value)
    if feed is not None:
        metrics.records_rejected.labels(feed).inc()
        metrics.records_received.labels(feed).inc()


async def count_rejections(bootstrap: str, metrics: Metrics) -> None:
    """Count until cancelled; a Kafka that is down is waited for, never fatal."""
    while True:
        consumer = AIOKafkaConsumer(
            names.REJECTED,
            bootstrap_servers=bootstrap,
            group_id=GROUP,
            client_id="welfare-watch-rejections",
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            **security.aiokafka_options(),
        )
        try:
            # made here, not on first read: a consumer's read could create it otherwise
            await asyncio.to_thread(kafka.ensure_topics, bootstrap, [names.REJECTED], 1)
            await consumer.start()
            async for message in consumer:
                count(metrics, message.value)
        except (KafkaError, OSError, WelfareWatchError) as exc:
            log.warning(
                "metrics: dept.rejected not readable (%s); trying again in %gs",
                type(exc).__name__,
                RETRY_SECONDS,
            )
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
        await asyncio.sleep(RETRY_SECONDS)
