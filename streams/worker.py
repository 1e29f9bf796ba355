"""Start the stream worker: make sure its topics exist, then run the Faust app."""

from __future__ import annotations

import logging

import faust
from prometheus_client import start_http_server

from streams import deadletter
from streams.app import create_app
from welfare_watch import kafka, names
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    for chatty in ("kafka", "aiokafka"):  # connection chatter; failures still show
        logging.getLogger(chatty).setLevel(logging.WARNING)
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    counts = kafka.partition_counts(bootstrap, names.WORKER_INPUTS)
    if problem := kafka.co_partitioning_error(counts, settings.policy.worker.partitions):
        raise WelfareWatchError(problem)
    kafka.ensure_topics(bootstrap, [names.ALERTS], settings.policy.worker.partitions)
    kafka.ensure_topics(bootstrap, [names.REJECTED], 1)
    deadletter.ensure_topic(bootstrap)  # one partition, kept forever
    if settings.env.metrics_port:
        start_http_server(settings.env.metrics_port, addr="0.0.0.0")
    app = create_app(settings)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
