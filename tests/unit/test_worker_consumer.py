"""The worker's consumer asks the broker to hold a fetch at most streams.consumer's wait."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from streams.app import create_app
from streams.consumer import FETCH_MAX_WAIT, PromptConsumer
from welfare_watch.settings import Environment, Settings, load_policy


def test_the_workers_fetches_wait_at_most_a_tenth_of_a_second() -> None:
    settings = Settings(Environment(kafka_bootstrap="127.0.0.1:1"), load_policy())

    async def built() -> int:
        app = create_app(settings)
        consumer = app.consumer
        assert isinstance(consumer, PromptConsumer)
        made = consumer._thread._create_worker_consumer(cast(Any, app.transport))  # not started
        try:
            return int(made._fetch_max_wait_ms)
        finally:
            await made.stop()

    assert asyncio.run(built()) == int(FETCH_MAX_WAIT * 1000) == 100
