"""The web app's factory: shared state, routes, and the start and stop of its clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import REGISTRY as GLOBAL_REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from web import alerts_api, audit_api, health, ingest, pages, stream
from web.audit import audit_context
from web.commands import command_sender
from web.openapi import ACTIONS, openapi
from web.state import METRICS, OPTIONS, REDIS, REGISTRY, SCRAPE, SECRET, SETTINGS, WebOptions
from welfare_watch import redis_client
from welfare_watch.exposition import scrape_registry
from welfare_watch.lag_metrics import LagCollector
from welfare_watch.metrics import Metrics
from welfare_watch.rejections import count_rejections
from welfare_watch.settings import Settings
from welfare_watch.store_metrics import FeedClock, StoreCollector
from welfare_watch.tokens import secret_for

log = logging.getLogger(__name__)

# Metrics registered once per registry and process: a second app on the same registry shares
# them instead of failing on duplicate names.
_metrics: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def create_app(
    settings: Settings,
    metrics_registry: CollectorRegistry | None = None,
    *,
    metrics: Metrics | None = None,
    options: WebOptions | None = None,
) -> web.Application:
    """The web app. `metrics_registry` defaults to prometheus_client's global registry.

    Pass `metrics` (built on that registry) when the worker runs in the same process, so
    both count on one set of metrics. Demo mode (no WW_SECRET_KEY) is announced here.
    """
    registry = metrics_registry or GLOBAL_REGISTRY
    if metrics is None:
        metrics = _metrics.get(registry) or _metrics.setdefault(registry, Metrics(registry))
    app = web.Application()
    app[SETTINGS] = settings
    app[OPTIONS] = options or WebOptions()
    app[SECRET] = secret_for(settings.env, log.warning)
    app[METRICS] = metrics
    app[REGISTRY] = registry
    monitor = app[OPTIONS].monitor
    app[SCRAPE] = scrape_registry(registry, _monitor_collectors(settings) if monitor else ())
    if monitor:
        app.cleanup_ctx.append(_count_rejections)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(ingest.producer_context)
    app.cleanup_ctx.append(audit_context)  # on the Redis client: after _redis
    app.cleanup_ctx.append(command_sender(settings))
    app.router.add_get("/api/alerts", alerts_api.list_alerts)
    app.router.add_get("/api/alerts/stream", stream.alert_stream)  # before {alert_id}
    app.router.add_get("/api/alerts/{alert_id}", alerts_api.get_alert)
    for action in ACTIONS:
        app.router.add_post(f"/api/alerts/{{alert_id}}/{action}", alerts_api.act)
    app.router.add_post("/api/checks", alerts_api.checks)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/audit", audit_api.audit_entries)
    app.router.add_post("/api/ingest/{feed}", ingest.ingest)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    pages.setup(app)  # the inbox: /, /alerts/{id}, /api/session, /static (web/pages.py)
    return app


def run_web(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the web app until SIGINT or SIGTERM (`welfare-watch web`)."""
    app = create_app(settings, options=WebOptions(monitor=True))
    log.warning("web app listening on http://%s:%d", host, port)
    # No access log: a request line can carry a query string, and a query could carry an ID.
    web.run_app(app, host=host, port=port, print=None, access_log=None)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    # Short timeouts: a probe must not hang on a Redis that does not answer.
    client = redis_client.connect_async(
        app[SETTINGS].env.redis_url, socket_connect_timeout=2, socket_timeout=2
    )
    app[REDIS] = client
    yield
    await client.aclose()


def _monitor_collectors(settings: Settings) -> list[Collector]:
    """Open alerts and feed freshness from the store, consumer lag from Kafka."""
    city = settings.policy.city
    store = redis_client.connect(settings.env.redis_url, socket_connect_timeout=2, socket_timeout=5)
    feeds = [FeedClock(name, spec.expected_every_days) for name, spec in settings.feeds.items()]
    districts = [*city.districts, city.code]
    return [
        StoreCollector(store, feeds, districts, city.district_of),
        LagCollector.for_kafka(settings.env.kafka_bootstrap),
    ]


async def _count_rejections(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(
        count_rejections(app[SETTINGS].env.kafka_bootstrap, app[METRICS]), name="rejections"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
