"""Hands a person's action to the worker: a command on ww.commands, keyed by person id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiokafka import AIOKafkaProducer

from alerts.lifecycle import Command
from welfare_watch import kafka, names, security
from welfare_watch.settings import Settings


class CommandSender:
    """One Kafka producer for the app, started on first use (the app starts without Kafka)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def send(self, command: Command) -> None:
        producer = await self._started()
        await producer.send_and_wait(
            names.COMMANDS,
            key=command.person_id.encode(),
            value=command.model_dump_json().encode(),
        )

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                bootstrap = self._settings.env.kafka_bootstrap
                partitions = self._settings.policy.worker.partitions
                await asyncio.to_thread(
                    kafka.ensure_topics, bootstrap, names.WORKER_INPUTS, partitions
                )
                producer = AIOKafkaProducer(
                    bootstrap_servers=bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    **security.aiokafka_options(),
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


COMMANDS = web.AppKey("commands", CommandSender)


def command_sender(
    settings: Settings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's cleanup context: a sender for the app's life, closed at the end."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        sender = CommandSender(settings)
        app[COMMANDS] = sender
        yield
        await sender.close()

    return context
