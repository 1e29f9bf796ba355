"""Webhooks on the real Redis stream, posting to a local receiver that fails when told to."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.model import Alert, HistoryEntry
from alerts.webhook_formats import webhook_body
from alerts.webhooks import EVENT_HEADER, GROUP, WebhookMetrics, WebhookService
from tests.integration.conftest import WW, Cli
from tests.unit.test_webhooks import AT, NAME, PERSON_ID, alert
from welfare_watch import names, redis_client
from welfare_watch.settings import Webhooks

INBOX = "http://inbox.test:8080"
QUEUE, OTHER = "cw-210105-01", "cw-210106-01"
T = TypeVar("T")


@dataclass
class Hit:
    path: str
    at: float
    event: str
    body: Any
    status: int


@dataclass
class Receiver:
    """Answers 500 to a path's first `fail_first[path]` requests (every one for -1), then 200."""

    fail_first: dict[str, int]
    hits: list[Hit] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        seen = sum(1 for h in self.hits if h.path == path)
        limit = self.fail_first.get(path, 0)
        status = 500 if limit < 0 or seen < limit else 200
        body = json.loads(await request.text())
        self.hits.append(Hit(path, time.monotonic(), request.headers[EVENT_HEADER], body, status))
        if status != 200:
            return web.Response(status=status, text="try later")
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def accepted(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path and h.status == 200]

    def tries(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@asynccontextmanager
async def receiving(fail_first: dict[str, int]) -> AsyncIterator[Receiver]:
    receiver = Receiver(fail_first)
    app = web.Application()
    app.router.add_post("/{hook}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # a free port
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def config(receiver: Receiver, targets: dict[str, tuple[str, str]], **options: Any) -> Webhooks:
    return Webhooks.model_validate(
        {
            "inbox_url": INBOX,
            "attempts": 3,
            "backoff_seconds": 0.05,
            "timeout_seconds": 5,
            "targets": {
                queue: {"url": f"{receiver.url}/{path}", "format": fmt}
                for queue, (path, fmt) in targets.items()
            },
        }
        | options
    )


async def xadd(client: aioredis.Redis, a: Alert) -> str:
    event_id = await client.xadd(names.ALERT_EVENTS, {"alert": a.model_dump_json()})
    return event_id.decode() if isinstance(event_id, bytes) else event_id


async def pending(client: aioredis.Redis) -> int:
    summary = await client.xpending(names.ALERT_EVENTS, GROUP)
    return int(summary["pending"])


def deliveries(registry: CollectorRegistry, fmt: str, outcome: str) -> float | None:
    labels = {"format": fmt, "outcome": outcome}
    return registry.get_sample_value("welfare_watch_webhook_deliveries_total", labels)


def on_redis(env: dict[str, str], scenario: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = redis_client.connect_async(env["WW_REDIS_URL"])
        try:
            return await scenario(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def acknowledged(a: Alert) -> Alert:
    entry = HistoryEntry(at=AT, by="cw-210105-01", action="acknowledged", why="", role="caseworker")
    return a.model_copy(
        update={"status": "acknowledged", "version": 2, "history": [*a.history, entry]}
    )


def test_each_change_reaches_its_queue_once_after_retries_in_order(
    ww: Cli, stack_env: dict[str, str]
) -> None:
    registry = CollectorRegistry()
    first = alert()
    other = alert(alert_id="deceased_beneficiary-00000000000000ff", queue=OTHER)
    second = acknowledged(first)

    async def scenario(client: aioredis.Redis) -> None:
        async with receiving({"/wecom": 2}) as receiver:
            hooks = config(receiver, {QUEUE: ("wecom", "wecom")}, attempts=4)
            service = WebhookService(client, hooks, consumer="t1", metrics=WebhookMetrics(registry))
            await service.prepare()
            ids = [await xadd(client, a) for a in (first, other, second)]
            await service.run(drain=True)

            # 2 refusals, then the first change, then the second: never overtaken by it
            assert [(h.event, h.status) for h in receiver.hits] == [
                (ids[0], 500),
                (ids[0], 500),
                (ids[0], 200),
                (ids[2], 200),
            ]
            got = receiver.accepted("/wecom")
            assert [h.event for h in got] == [ids[0], ids[2]]
            assert [h.body for h in got] == [
                webhook_body("wecom", first, INBOX),
                webhook_body("wecom", second, INBOX),
            ]
            assert all(h.event != ids[1] for h in receiver.hits)  # no webhook for that queue
            text = json.dumps([h.body for h in receiver.hits], ensure_ascii=False)
            assert NAME not in text and PERSON_ID not in text
            assert f"{INBOX}/alerts/{first.alert_id}" in text
            assert await pending(client) == 0

    on_redis(stack_env, scenario)
    assert deliveries(registry, "wecom", "delivered") == 2
    assert deliveries(registry, "wecom", "gave_up") is None


def test_a_receiver_that_never_answers_is_given_up_without_delaying_the_others(
    ww: Cli, stack_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    down = alert()
    fine = alert(alert_id="vehicle_owner-00000000000000aa", type="VEHICLE_OWNER", queue=OTHER)

    async def scenario(client: aioredis.Redis) -> None:
        async with receiving({"/down": -1}) as receiver:
            targets = {QUEUE: ("down", "json"), OTHER: ("fine", "dingtalk")}
            hooks = config(receiver, targets, attempts=3, backoff_seconds=0.4)
            service = WebhookService(client, hooks, consumer="t2", metrics=WebhookMetrics(registry))
            await service.prepare()
            await xadd(client, down)  # first in the stream
            await xadd(client, fine)
            started = time.monotonic()
            await service.run(drain=True)
            took = time.monotonic() - started

            tries = receiver.tries("/down")
            assert len(tries) == 3 and all(h.status == 500 for h in tries)
            assert [h.body for h in receiver.accepted("/fine")] == [
                webhook_body("dingtalk", fine, INBOX)
            ]
            # the healthy receiver had its message before the failing one was even retried
            assert receiver.accepted("/fine")[0].at < tries[1].at
            assert tries[1].at - tries[0].at >= 0.2 and tries[2].at - tries[1].at >= 0.4
            assert took >= 0.6
            assert await pending(client) == 0  # given up is acknowledged too

    with caplog.at_level(logging.WARNING, logger="alerts.webhooks"):
        on_redis(stack_env, scenario)
    assert deliveries(registry, "json", "gave_up") == 1
    assert deliveries(registry, "dingtalk", "delivered") == 1
    given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1
    assert down.alert_id in given_up[0] and QUEUE in given_up[0]
    logged = caplog.text
    assert NAME not in logged and PERSON_ID not in logged and "127.0.0.1" not in logged


def test_entries_read_before_a_crash_are_delivered_after_it(
    ww: Cli, stack_env: dict[str, str]
) -> None:
    mine, orphaned = alert(), alert(alert_id="deceased_beneficiary-0000000000000abc")
    registry = CollectorRegistry()

    async def scenario(client: aioredis.Redis) -> None:
        async with receiving({}) as receiver:
            hooks = config(receiver, {"*": ("all", "json")})
            service = WebhookService(client, hooks, consumer="t3", metrics=WebhookMetrics(registry))
            await service.prepare()
            ids = [await xadd(client, mine), await xadd(client, orphaned)]
            # read, never acknowledged: once by this consumer, once by one that is gone for good
            await client.xreadgroup(GROUP, "t3", {names.ALERT_EVENTS: ">"}, count=1)
            await client.xreadgroup(GROUP, "gone", {names.ALERT_EVENTS: ">"}, count=1)
            assert await pending(client) == 2
            await asyncio.sleep(0.2)

            restarted = WebhookService(
                client, hooks, consumer="t3", metrics=WebhookMetrics(CollectorRegistry())
            )
            await restarted.run(drain=True)  # its own, at once; the other's is not idle enough
            assert [h.event for h in receiver.accepted("/all")] == [ids[0]]
            assert await pending(client) == 1

            another = WebhookService(
                client,
                hooks,
                consumer="t4",
                metrics=WebhookMetrics(CollectorRegistry()),
                claim_idle=0.1,
            )
            await another.run(drain=True)  # claims what "gone" left idle
            assert [h.event for h in receiver.accepted("/all")] == ids
            assert len(receiver.hits) == 2
            assert await pending(client) == 0

    on_redis(stack_env, scenario)


def test_the_command_delivers_with_the_configured_targets(
    ww: Cli, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """`welfare-watch webhooks --drain` reads [webhooks] from the configuration."""
    a = alert()

    async def command(env: dict[str, str]) -> None:
        process = await asyncio.create_subprocess_exec(
            WW, "webhooks", "--drain", env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()[-2000:]

    async def scenario(client: aioredis.Redis) -> None:
        async with receiving({"/cmd": 1}) as receiver:
            override = tmp_path / "webhooks.toml"
            override.write_text(
                f'[webhooks]\ninbox_url = "{INBOX}"\nbackoff_seconds = 0.05\n'
                f'[webhooks.targets."{QUEUE}"]\nurl = "{receiver.url}/cmd"\nformat = "dingtalk"\n',
                encoding="utf-8",
            )
            env = {**os.environ, **stack_env, "WW_CONFIG": str(override)}
            await command(env)  # makes the group: from here on, every change is delivered
            event = await xadd(client, a)
            await command(env)
            assert [(h.event, h.body) for h in receiver.accepted("/cmd")] == [
                (event, webhook_body("dingtalk", a, INBOX))
            ]
            assert await pending(client) == 0

    on_redis(stack_env, scenario)
