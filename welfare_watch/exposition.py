"""What a /metrics serves: one process's metrics, or every process's under `welfare-watch run`.

Deployed separately, each process serves its own registry on its port (WW_METRICS_PORT; the web
app on its HTTP port). `welfare-watch run` starts its processes with PROMETHEUS_MULTIPROC_DIR
set: each writes its metrics into files there, and the web app's /metrics serves them merged by
prometheus_client's own MultiProcessCollector. Collectors that read rather than count (the
store, consumer lag) are added by the one process that serves them, the web app.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


class _Forward(Collector):
    """Another registry's metrics, as one collector of this one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        return self._registry.collect()


def scrape_registry(
    own: CollectorRegistry = REGISTRY, extra: Iterable[Collector] = ()
) -> CollectorRegistry:
    """The registry a /metrics renders: every process's metrics in multiprocess mode (which
    include this one's), else `own`; then the `extra` collectors."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(own))
    for collector in extra:
        registry.register(collector)
    return registry


def serve(port: int, registry: CollectorRegistry = REGISTRY) -> None:
    """This process's /metrics on `port` (all addresses), in a thread; 0 serves nothing."""
    if port:
        start_http_server(port, addr="0.0.0.0", registry=registry)


@contextmanager
def multiprocess_dir() -> Iterator[dict[str, str]]:
    """The environment for a group of processes that share one /metrics: a fresh directory
    for their metric files (PROMETHEUS_MULTIPROC_DIR), deleted when the group has stopped.
    The processes serve no port of their own (WW_METRICS_PORT=0): the web app serves all."""
    path = tempfile.mkdtemp(prefix="welfare-watch-metrics-")
    try:
        yield {MULTIPROC_DIR: path, "WW_METRICS_PORT": "0"}
    finally:
        shutil.rmtree(path, ignore_errors=True)
