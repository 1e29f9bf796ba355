"""The worker's faust app: its producer acks=all and idempotent for everything the worker
sends, its consumer quick to fetch (streams.consumer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as FaustAIOKafkaProducer
from faust.types import ConsumerT, ProducerT

from streams.consumer import PromptConsumer


class IdempotentProducer(FaustAIOKafkaProducer):
    """faust's aiokafka producer with acks=all and idempotence on every send: faust turns
    idempotence on only inside exactly_once transactions, which the worker does not use. A
    retry inside the producer (a broker restart, a lost response) then neither duplicates
    nor reorders what the worker sends (rejections, end markers, re-checks)."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class WorkerApp(faust.App):
    """The worker's faust app: everything it produces goes through an IdempotentProducer, and
    it reads through a PromptConsumer."""

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_consumer(self) -> ConsumerT:  # as faust.App's, with streams.consumer's
        return PromptConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
