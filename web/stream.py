"""`GET /api/alerts/stream`: server-sent events, each new or changed alert the caller may see.

The worker appends every alert change to a Redis stream in the same transaction that saves
it; this reads that stream. Every event carries its stream id, so a browser that reconnects
with `Last-Event-ID` gets everything written since, then live events. A client too far behind
(the stream is trimmed) gets a `reset` event: reload the list.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import suppress
from typing import Any, cast

from aiohttp import ClientConnectionResetError, web
from redis.asyncio import Redis

from alerts.model import Alert
from web.access import can_see
from web.auth import caller, forbid, still_valid
from web.errors import fail
from web.state import REDIS, SETTINGS
from welfare_watch import names
from welfare_watch.tokens import Claims

_BLOCK_MS = 1000  # one read waits this long for news (under the client's socket timeout)
_KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing the connection
_REVALIDATE = 10.0  # seconds between checks that the token is still good (revoked, expired)
_STREAM_ID = re.compile(r"^\d+-\d+$")
_PEOPLE = frozenset({"caseworker", "supervisor", "auditor"})


async def alert_stream(request: web.Request) -> web.StreamResponse:
    claims = await caller(request)
    if claims.role not in _PEOPLE:
        raise await forbid(request, claims, f"a {claims.role} token has no inbox")
    # A reconnecting EventSource sends the header; the page, on its first connection, passes
    # the newest event id as of its rendering, so nothing written while it loads is missed.
    last = (
        request.headers.get("Last-Event-ID") or request.rel_url.query.get("last_event_id") or ""
    ).strip()
    if last and not _STREAM_ID.match(last):
        raise fail(web.HTTPBadRequest, "Last-Event-ID is not an event id of this stream")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    with suppress(ConnectionResetError, ClientConnectionResetError):  # the browser went away
        await _serve(request, response, claims, last)
    return response


async def _serve(
    request: web.Request, response: web.StreamResponse, claims: Claims, last: str
) -> None:
    policy = request.app[SETTINGS].policy
    client = request.app[REDIS]
    if last and await client.exists(names.ALERT_EVENTS) and await _trimmed_past(client, last):
        await response.write(b"event: reset\ndata: {}\n\n")
        last = ""
    cursor = last or await _newest(client)
    await response.write(b"retry: 2000\n\n")
    loop = asyncio.get_running_loop()
    quiet_since = checked_at = loop.time()
    while True:
        if loop.time() - checked_at > _REVALIDATE:
            if not await still_valid(request, claims):
                break
            checked_at = loop.time()
        replies = cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None,
            await client.xread({names.ALERT_EVENTS: cursor}, count=200, block=_BLOCK_MS),
        )
        for _, entries in replies or []:
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                alert = Alert.model_validate_json(fields[b"alert"])
                if can_see(claims, alert, policy):
                    data = alert.model_dump_json()
                    await response.write(f"id: {cursor}\nevent: alert\ndata: {data}\n\n".encode())
                    quiet_since = loop.time()
        if loop.time() - quiet_since > _KEEPALIVE:
            await response.write(b": keepalive\n\n")
            quiet_since = loop.time()


async def _newest(client: Redis) -> str:
    """The id of the newest event now ("0-0" for an empty stream): stream only what follows."""
    newest = cast(list[tuple[bytes, object]], await client.xrevrange(names.ALERT_EVENTS, count=1))
    return newest[0][0].decode() if newest else "0-0"


async def _trimmed_past(client: Redis, last: str) -> bool:
    """Whether an event after `last` has been trimmed away already (the stream is capped):
    then the client must reload its list rather than trust that it missed nothing."""
    info: dict[str, Any] = await client.xinfo_stream(names.ALERT_EVENTS)
    deleted = info.get("max-deleted-entry-id", b"0-0")
    deleted = deleted.decode() if isinstance(deleted, bytes) else str(deleted)
    return _key(deleted) > _key(last)


def _key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)
