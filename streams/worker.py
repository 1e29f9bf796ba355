"""Start the stream worker: make sure its topics exist, then run the Faust app."""

from __future__ import annotations

import gc
import logging

import faust
from prometheus_client import start_http_server

from streams import deadletter
from streams.app import create_app
from welfare_watch import kafka, names
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

# Python's garbage collector, for a process that makes and drops many small objects per event
# (each person's decoded facts, enrollments and alerts): with the default thresholds (700, 10,
# 10) it collects the young objects every few events and the whole heap every few hundred. A
# facts backlog of 46,368 records (the benchmark city's) took the worker 16.6-16.9 s with them
# and 13.7-13.9 s with these (2026-12-06, two runs each; 100,000 for the first did no better).
GC_THRESHOLDS = (20_000, 50, 50)


def tune_gc() -> None:
    """Collect less often, and never scan what start-up made (it lives as long as the worker)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
    tune_gc()
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
