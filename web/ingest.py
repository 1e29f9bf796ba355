"""`POST /api/ingest/{feed}`: a department pushes a CSV or JSON-lines body through its connector."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from aiohttp import web
from kafka.errors import KafkaError

from connectors.errors import NotATable
from connectors.feedspec import FeedSpec
from connectors.parse import Format, Rejection, parse_feed
from connectors.sink import DeliveryResult, sink_for
from web.auth import authorize, caller
from web.errors import fail, too_large
from web.health import kafka_unreachable
from web.producer import SharedProducer
from web.state import METRICS, OPTIONS, PRODUCER, SETTINGS
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_CONNECT_TIMEOUT = 3.0  # seconds for Kafka to accept a connection before a delivery starts
_CSV_TYPES = frozenset({"text/csv"})
_JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines"})


@dataclass
class Delivery:
    """One request's records as they went through: counts, and the first rejections' reasons."""

    feed: str
    source: str
    max_rejections: int
    result: DeliveryResult | None = None
    rejections: list[dict[str, object]] = field(default_factory=list)

    def reply(self) -> dict[str, object]:
        result = self.result or DeliveryResult(self.feed, self.source)
        return {
            "feed": self.feed,
            "received": result.received,
            "accepted": result.accepted,
            "rejected": result.rejected,
            "rejections": self.rejections,
        }

    def note(self, item: Rejection) -> None:
        if len(self.rejections) < self.max_rejections:
            self.rejections.append({"line": item.line, "reason": item.reason})


async def ingest(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    feed = request.match_info["feed"]
    claims = await caller(request)
    spec = settings.feeds.get(feed)
    if spec is None:
        raise fail(web.HTTPNotFound, f"unknown feed {feed!r}")
    await authorize(request, claims, "department", feed)
    options = request.app[OPTIONS]
    request_id = uuid.uuid4().hex
    delivery = Delivery(feed, f"http:{request_id}", options.max_rejections)
    with tempfile.SpooledTemporaryFile(max_size=options.spool_bytes) as spooled:
        body = cast(BinaryIO, spooled)
        await _spool(request, body, options.max_body_bytes)
        body.seek(0)
        try:
            await asyncio.to_thread(
                deliver, settings, spec, body, _format(request), delivery, request.app[PRODUCER]
            )
        except NotATable as exc:  # a line too long can come after records were sent: count them
            _count(request, delivery)
            extra = delivery.reply() if delivery.result else {}
            raise fail(web.HTTPBadRequest, str(exc), extra=extra) from None
        except (KafkaError, WelfareWatchError) as exc:  # the department sends it again later
            reason = _kafka_failure(settings, exc)
            log.warning("ingest %s request %s failed: %s", feed, request_id, reason)
            raise fail(web.HTTPServiceUnavailable, reason) from None
    _count(request, delivery)
    reply = delivery.reply()
    log.info(
        "ingest %s request %s: received %s, accepted %s, rejected %s",
        feed,
        request_id,
        reply["received"],
        reply["accepted"],
        reply["rejected"],
    )
    return web.json_response(reply, headers={"X-Request-Id": request_id}, dumps=_dumps)


def deliver(
    settings: Settings,
    spec: FeedSpec,
    body: BinaryIO,
    fmt: Format | None,
    delivery: Delivery,
    shared: SharedProducer,
) -> None:
    """Parse the body and send it on (blocking: run in a thread). Raises NotATable first."""
    received_at = dt.datetime.now(dt.UTC)
    items = parse_feed(spec, body, received_at, delivery.source, fmt=fmt)
    first = next(items, None)  # a body that is not a table fails here, before anything is sent
    if first is None:
        return
    bootstrap = settings.env.kafka_bootstrap
    problem = kafka_unreachable(bootstrap, _CONNECT_TIMEOUT)
    if problem:
        raise WelfareWatchError(f"cannot reach Kafka at {bootstrap} ({problem}): send again later")
    with shared.lend() as producer, sink_for(settings, spec, delivery.source, producer) as sink:
        delivery.result = sink.result
        for item in itertools.chain([first], items):
            sink.send(item)
            if isinstance(item, Rejection):
                delivery.note(item)


async def _spool(request: web.Request, body: BinaryIO, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit, request.content_length)
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit, size)
        body.write(chunk)


def _format(request: web.Request) -> Format | None:
    """From the Content-Type; otherwise the body's first non-blank byte decides ('{': JSON)."""
    if request.content_type in _CSV_TYPES:
        return "csv"
    if request.content_type in _JSONL_TYPES:
        return "jsonl"
    return None


def _count(request: web.Request, delivery: Delivery) -> None:
    if delivery.result is None:
        return
    # HTTP is one way in: records_received and records_rejected count every way where they
    # meet (the worker, dept.rejected), so this counts only what came by HTTP.
    metrics = request.app[METRICS]
    metrics.http_records.labels(delivery.feed, "accepted").inc(delivery.result.accepted)
    metrics.http_records.labels(delivery.feed, "rejected").inc(delivery.result.rejected)


def _kafka_failure(settings: Settings, exc: Exception) -> str:
    """One line naming the address tried; WelfareWatchError messages already do."""
    if isinstance(exc, WelfareWatchError):
        return str(exc).strip().splitlines()[0]
    address = settings.env.kafka_bootstrap
    return f"Kafka at {address} did not take the records ({type(exc).__name__}): send again later"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def producer_context(app: web.Application) -> AsyncIterator[None]:
    """The app's SharedProducer, closed (what it still holds sent, for 5 s) on shutdown."""
    shared = SharedProducer(app[SETTINGS])
    app[PRODUCER] = shared
    yield
    await asyncio.to_thread(shared.close)
