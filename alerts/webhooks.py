"""Outbound webhooks: every alert change on the event stream, posted to its queue's targets.

The worker XADDs each changed alert to `names.ALERT_EVENTS` as it saves it; this service reads
that stream in the consumer group "webhooks", so the worker never waits for it and nothing is
missed across restarts. Each entry is delivered to every target configured for the alert's
queue (and to `"*"`), each retried with exponential back-off in its own task (at most
`concurrency` requests in flight), and acknowledged (XACK) once every delivery has succeeded or
been given up. A given-up delivery is logged (alert id and queue) and counted, never retried.

Delivery is at least once: an entry read but not acknowledged when the process dies is sent again
after a restart (this consumer's own pending entries are read first), or by another instance once
it has been idle `CLAIM_IDLE` seconds (XAUTOCLAIM). Each request carries the stream id in the
`X-Welfare-Watch-Event` header, so a receiver can drop a repeat.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import logging
import random
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, start_http_server
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alerts.model import Alert
from alerts.webhook_formats import webhook_body
from welfare_watch import names, redis_client
from welfare_watch.settings import Settings, Webhooks, WebhookTarget

log = logging.getLogger(__name__)

GROUP = "webhooks"
EVENT_HEADER = "X-Welfare-Watch-Event"
READ_COUNT = 100  # entries fetched in one XREADGROUP
MAX_IN_FLIGHT = 500  # entries read and not yet acknowledged, at most (memory stays bounded)
BLOCK_MS = 1000  # a read waits this long for new entries (also how soon a stop is noticed)
HEARTBEAT_SECONDS = 30.0  # in-flight entries are re-claimed by their owner this often...
CLAIM_IDLE = 120.0  # ...so an entry idle this long has an owner that died: another takes it
# 4xx answers that say "later", not "never"
_RETRY_4XX = frozenset({408, 425, 429})

Outcome = Literal["delivered", "gave_up", "rejected"]
Entry = tuple[bytes, dict[bytes, bytes]]


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.deliveries = Counter(
            "welfare_watch_webhook_deliveries",
            "Webhook deliveries by format and outcome: delivered; gave_up (every attempt "
            "failed); rejected (the receiver refused it with a 4xx that a retry cannot change)",
            ["format", "outcome"],
            registry=registry,
        )
        self.unreadable = Counter(
            "welfare_watch_webhook_unreadable_events",
            "Alert events the webhook service could not read (acknowledged and skipped)",
            registry=registry,
        )


@dataclass(frozen=True)
class Failure:
    reason: str  # "HTTP 500", "errcode 45009", "TimeoutError": never the URL (it holds a key)
    permanent: bool


def backoff(base: float, attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, …): base·2^(attempt-1), jittered
    into its upper half so that many deliveries to one recovering receiver do not retry as one."""
    delay: float = base * 2.0 ** (attempt - 1)
    return delay * (0.5 + random.random() / 2)


def dingtalk_signed(url: str, secret: str, now_ms: int) -> str:
    """A 钉钉 robot URL with the signature a robot that signs (加签) requires."""
    message = f"{now_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    query = urlencode({"timestamp": now_ms, "sign": base64.b64encode(digest).decode()})
    return f"{url}{'&' if '?' in url else '?'}{query}"


class WebhookService:
    """Reads the alert events as consumer `consumer` of the group and delivers them."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: Webhooks,
        *,
        consumer: str,
        metrics: WebhookMetrics | None = None,
        claim_idle: float = CLAIM_IDLE,
    ) -> None:
        self.client = client
        self.claim_idle = claim_idle
        self.config = config
        self.consumer = consumer
        self.metrics = metrics or WebhookMetrics()
        self._tasks: dict[bytes, asyncio.Task[None]] = {}  # stream id -> its task
        self._latest: dict[str, asyncio.Task[None]] = {}  # alert id -> its newest event's task
        self._slots = asyncio.Semaphore(config.concurrency)
        self._session: aiohttp.ClientSession | None = None

    def targets_for(self, queue: str) -> list[tuple[str, WebhookTarget]]:
        return [(key, t) for key, t in self.config.targets.items() if key in (queue, "*")]

    async def prepare(self) -> None:
        """Create the consumer group if it does not exist yet.

        It starts at the stream's end (`$`): the events kept from before the service was first
        started (up to the worker's trim length) are old news, and a robot that posts 20 messages
        a minute would spend days on them. From then on the group's position is kept in Redis,
        so nothing is missed while the service is stopped. A group lost with its stream (after
        `welfare-watch reset`) is made again from `0` by `_read`: all of that stream is new.
        """
        await self._create_group("$")

    async def _create_group(self, start: str) -> None:
        try:
            await self.client.xgroup_create(names.ALERT_EVENTS, GROUP, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, *, drain: bool = False, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set; with `drain`, what is there now (retries included)."""
        stop = stop or asyncio.Event()
        await self.prepare()
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        # trust_env: an intranet reaches the robots' servers through the proxy in HTTPS_PROXY
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
            self._session = session
            try:
                await self._take_own_pending()
                await self._claim_abandoned()
                await self._loop(drain, stop)
                if drain:
                    await self._wait_all()
            finally:
                for task in list(self._tasks.values()):  # not acknowledged: redelivered later
                    task.cancel()
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                self._session = None

    async def _loop(self, drain: bool, stop: asyncio.Event) -> None:
        heartbeat = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() - heartbeat >= HEARTBEAT_SECONDS:
                    await self._heartbeat()
                    await self._claim_abandoned()
                    heartbeat = time.monotonic()
                taken = await self._read(">", block=None if drain else BLOCK_MS)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if drain:
                    raise
                # deliveries under way go on; an acknowledgement lost meanwhile leaves its entry
                # pending, and it is claimed again once idle (at worst delivered twice)
                log.warning("Redis did not answer (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if drain and not taken:
                return

    async def _wait_all(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values())

    async def _room(self) -> int:
        """How many more entries may be taken, after waiting for one to finish if none."""
        while len(self._tasks) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        return min(READ_COUNT, MAX_IN_FLIGHT - len(self._tasks))

    async def _read(self, start: str, block: int | None) -> list[Entry]:
        count = await self._room()
        try:
            reply = await self.client.xreadgroup(
                GROUP, self.consumer, {names.ALERT_EVENTS: start}, count=count, block=block
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("the alert event stream was deleted; reading it from its start")
            await self._create_group("0")
            return []
        # [[stream, entries]] (RESP2, what redis.asyncio speaks unless told otherwise)
        entries: list[Entry] = cast(Any, reply)[0][1] if reply else []
        self._start(entries)
        return entries

    async def _take_own_pending(self) -> None:
        """Entries this consumer read before a restart and never acknowledged."""
        after = "0"
        while entries := await self._read(after, block=None):
            after = entries[-1][0].decode()

    async def _claim_abandoned(self) -> None:
        """Entries of consumers that died (idle `claim_idle`): XAUTOCLAIM moves them here."""
        cursor = "0-0"
        while True:
            await self._room()
            reply = await self.client.xautoclaim(
                names.ALERT_EVENTS,
                GROUP,
                self.consumer,
                min_idle_time=int(self.claim_idle * 1000),
                start_id=cursor,
                count=READ_COUNT,
            )
            cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
            self._start([e for e in reply[1] if e[0] not in self._tasks])
            if cursor == "0-0":
                return

    async def _heartbeat(self) -> None:
        """Reset the idle time of this consumer's entries still being delivered (a delivery in
        back-off can take minutes), so that no other instance claims them."""
        if self._tasks:
            await self.client.xclaim(
                names.ALERT_EVENTS, GROUP, self.consumer, 0, list(self._tasks), justid=True
            )

    def _start(self, entries: Sequence[Entry]) -> None:
        for event_id, fields in entries:
            alert = self._decode(event_id, fields)
            # An alert's changes go out in the order they were made: each waits for the one before.
            before = self._latest.get(alert.alert_id) if alert else None
            task = asyncio.create_task(self._handle(event_id, alert, before))
            self._tasks[event_id] = task
            if alert is not None:
                self._latest[alert.alert_id] = task
            task.add_done_callback(functools.partial(self._forget, event_id, alert))

    def _forget(self, event_id: bytes, alert: Alert | None, task: asyncio.Task[None]) -> None:
        self._tasks.pop(event_id, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("event %s not acknowledged: %r", event_id.decode(), exc)
        if alert is not None and self._latest.get(alert.alert_id) is task:
            del self._latest[alert.alert_id]

    def _decode(self, event_id: bytes, fields: dict[bytes, bytes] | None) -> Alert | None:
        raw = (fields or {}).get(b"alert")
        if raw is None:  # trimmed from the stream while pending, or not an alert event
            return None
        try:
            return Alert.model_validate_json(raw)
        except ValidationError:
            log.warning("alert event %s is unreadable; skipped", event_id.decode())
            self.metrics.unreadable.inc()
            return None

    async def _handle(
        self, event_id: bytes, alert: Alert | None, before: asyncio.Task[None] | None
    ) -> None:
        if alert is not None:
            if before is not None:
                await asyncio.wait([before])
            body = {
                fmt: json.dumps(webhook_body(fmt, alert, self.config.inbox_url), ensure_ascii=False)
                for fmt in {t.format for _, t in self.targets_for(alert.queue)}
            }
            await asyncio.gather(
                *(
                    self._deliver(event_id.decode(), alert, key, target, body[target.format])
                    for key, target in self.targets_for(alert.queue)
                )
            )
        await self.client.xack(names.ALERT_EVENTS, GROUP, event_id)

    async def _deliver(
        self, event_id: str, alert: Alert, key: str, target: WebhookTarget, body: str
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            async with self._slots:
                failure = await self._post(target, body, event_id)
            if failure is None:
                self.metrics.deliveries.labels(target.format, "delivered").inc()
                return
            if failure.permanent or attempt >= self.config.attempts:
                break
            await asyncio.sleep(backoff(self.config.backoff_seconds, attempt))
        outcome: Outcome = "rejected" if failure.permanent else "gave_up"
        self.metrics.deliveries.labels(target.format, outcome).inc()
        log.warning(
            "%s webhook for alert %s in queue %s (target %r) %s after %d attempt(s): %s",
            target.format,
            alert.alert_id,
            alert.queue,
            key,
            "refused" if failure.permanent else "given up",
            attempt,
            failure.reason,
        )

    async def _post(self, target: WebhookTarget, body: str, event_id: str) -> Failure | None:
        assert self._session is not None
        url = target.url.get_secret_value()
        if target.secret is not None and target.format == "dingtalk":
            url = dingtalk_signed(url, target.secret.get_secret_value(), int(time.time() * 1000))
        headers = {"Content-Type": "application/json; charset=utf-8", EVENT_HEADER: event_id}
        try:
            async with self._session.post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                if not 200 <= response.status < 300:
                    status = response.status
                    permanent = 300 <= status < 500 and status not in _RETRY_4XX
                    return Failure(f"HTTP {status}", permanent)
                if target.format != "json":  # the robots answer 200 with an error code
                    return _robot_failure(await response.read())
                return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Failure(type(exc).__name__, permanent=False)


def _robot_failure(answer: bytes) -> Failure | None:
    """企业微信 and 钉钉 answer `{"errcode": 0, "errmsg": "ok"}`; another code (a rate limit,
    a bad key) is a failure, retried: the rate limits pass, and a bad key is fixed by a person."""
    try:
        payload: Any = json.loads(answer)
    except ValueError:
        return None
    code = payload.get("errcode", 0) if isinstance(payload, dict) else 0
    return None if code == 0 else Failure(f"errcode {code}", permanent=False)


def run_webhooks(
    settings: Settings, *, drain: bool = False, consumer: str | None = None, metrics_port: int = 0
) -> None:
    """`welfare-watch webhooks`: until SIGTERM or SIGINT, or with `drain` until caught up."""
    config = settings.policy.webhooks
    if metrics_port:
        start_http_server(metrics_port, addr="0.0.0.0")
    # One name per host, kept across restarts: a restarted service reads its own pending entries.
    name = consumer or f"webhooks-{socket.gethostname()}"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        client = redis_client.connect_async(settings.env.redis_url, socket_connect_timeout=5)
        try:
            service = WebhookService(client, config, consumer=name)
            queues = ", ".join(sorted(config.targets)) or "none configured"
            log.warning("delivering alert changes as %s; targets: %s", name, queues)
            await service.run(drain=drain, stop=stop)
        finally:
            await client.aclose()

    asyncio.run(main())
