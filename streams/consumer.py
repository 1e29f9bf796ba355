"""The worker's faust consumer: fetches that wait at most FETCH_MAX_WAIT for new records.

faust builds its aiokafka consumer with `fetch_max_wait_ms=1500` and no setting to change it.
aiokafka keeps one fetch request in flight per broker, and asks in it only for the partitions
of which it holds no records yet. When the last response brought records of every busy
partition, the next request names only idle ones (roster.changes, ww.recheck, ww.commands), and
the broker holds it up to the wait: records that arrive meanwhile on ww.facts are fetched
after it, so the worker sat idle for up to 1.5 s with a backlog waiting (bench/RESULTS.md,
session 8). A short wait bounds that; an idle worker then asks ten times a second.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustAIOKafkaConsumer

FETCH_MAX_WAIT = 0.1  # seconds the broker may hold a fetch that finds no new records


class PromptConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # read by AIOKafkaConsumer.start
            raise RuntimeError(
                "this aiokafka keeps its fetch wait elsewhere: see streams/consumer.py"
            )
        consumer._fetch_max_wait_ms = int(FETCH_MAX_WAIT * 1000)
        return consumer


class PromptConsumer(FaustAIOKafkaConsumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)
