"""Redis forgetting what it acknowledged, for tests alone on their Redis: take every key of
welfare-watch as DUMP gives it, and later put exactly that back (a crash inside the fsync
window, as far as the store can tell)."""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.integration.conftest import Cli
from welfare_watch import names
from welfare_watch.settings import Settings


async def snapshot(client: aioredis.Redis) -> dict[bytes, bytes]:
    dumped = {k: await client.dump(k) async for k in client.scan_iter(names.PREFIX + "*")}
    return {k: v for k, v in dumped.items() if v is not None}


async def restore(client: aioredis.Redis, taken: dict[bytes, bytes]) -> None:
    keys = [key async for key in client.scan_iter(names.PREFIX + "*")]
    if keys:
        await client.delete(*keys)
    for key, value in taken.items():
        await client.restore(key, 0, value, replace=True)


def settings_of(ww: Cli) -> Settings:
    """The settings a worker started by `ww` has."""
    return Settings.load(
        kafka_bootstrap=ww.env["WW_KAFKA_BOOTSTRAP"],
        redis_url=ww.env["WW_REDIS_URL"],
        data_dir=ww.env["WW_DATA_DIR"],
        as_of=ww.env["WW_AS_OF"],
    )
