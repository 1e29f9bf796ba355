"""The worker's faust producer: acks=all and idempotent for everything the worker sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as FaustAIOKafkaProducer
from faust.types import ProducerT


class IdempotentProducer(FaustAIOKafkaProducer):
    """faust's aiokafka producer with acks=all and idempotence on every send: faust turns
    idempotence on only inside exactly_once transactions, which the worker does not use. A
    retry inside the producer (a broker restart, a lost response) then neither duplicates
    nor reorders what the worker sends (rejections, end markers, re-checks)."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class WorkerApp(faust.App):
    """The worker's faust app: everything it produces goes through an IdempotentProducer."""

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)
