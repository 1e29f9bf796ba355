"""What every handler of the web app shares, stored on the app under typed keys."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.audit import AuditLog
from web.producer import SharedProducer
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Settings

MiB = 1024 * 1024


@dataclass(frozen=True)
class WebOptions:
    """Limits of the web app; the defaults suit a department's daily file."""

    max_body_bytes: int = 200 * MiB  # a larger ingest body gets 413
    spool_bytes: int = 8 * MiB  # an ingest body is kept in memory up to this, then on disk
    max_rejections: int = 1000  # rejected records listed in an ingest reply (all are counted)
    ready_timeout: float = 3.0  # seconds Kafka and Redis get to answer /readyz
    # This app is the process that reads the metrics which are not counted (open alerts and
    # feed freshness from the store, consumer lag) and counts dept.rejected (welfare_watch/
    # store_metrics.py, lag_metrics.py, rejections.py). On for `welfare-watch web` and `run`.
    monitor: bool = False


SETTINGS = web.AppKey("settings", Settings)
OPTIONS = web.AppKey("options", WebOptions)
SECRET = web.AppKey("secret", bytes)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", aioredis.Redis)
REGISTRY = web.AppKey("registry", CollectorRegistry)
SCRAPE = web.AppKey("scrape", CollectorRegistry)  # what /metrics renders (exposition.py)
AUDIT = web.AppKey("audit", AuditLog)
PRODUCER = web.AppKey(
    "producer", SharedProducer
)  # the ingest API's (web/ingest.py)  # append with web.audit.audit_request
