"""Stores for unit tests of the worker's batch logic that must not reach Redis."""

from __future__ import annotations

import redis.asyncio as aioredis

from streams.store import Changes, Loaded, PersonStore


class ProgressOnly(PersonStore):
    """For a batch of messages that name no one who can be loaded (unreadable ones): its save
    holds only how far the input is done, kept in `saved`. Any other use of Redis fails
    (`unreachable()` points the client at a port nobody listens on)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__(redis)
        self.saved: list[Changes] = []

    async def save(self, changes: Changes, loaded: Loaded) -> None:
        assert not (changes.roster or changes.facts or changes.alerts or changes.offsets)
        self.saved.append(changes)

    @property
    def progress(self) -> dict[tuple[str, int], int]:  # type: ignore[override]
        done: dict[tuple[str, int], int] = {}
        for changes in self.saved:
            done.update(changes.progress)
        return done


def unreachable() -> aioredis.Redis:
    return aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
