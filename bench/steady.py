"""The latency phase around bench.latency: the connectors and the web app started with
department tokens, a warm-up record each way, the load, then both stopped."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from bench.city import City, quiet_individuals
from bench.events import CHECKS, DEATHS, Mix, alternate, split_people
from bench.latency import LatencyResult, Load, measure, warm_up
from bench.phases import wait_for_group
from bench.procs import BenchError, Log, Service, wait_caught_up, ww
from bench.stackenv import WEB_PORT, BenchEnv
from connectors.raw import GROUP as CONNECTORS_GROUP
from welfare_watch import names
from welfare_watch.progress import outstanding


def latency_phase(bench: BenchEnv, city: City, load: Load, seed: int, log: Log) -> LatencyResult:
    people = list(quiet_individuals(city))
    events = round(load.rate * load.seconds)
    dying, checked = split_people(people, events, load.alert_share, seed)
    if len(checked) < 2:
        raise BenchError("the city is too small for the latency phase")
    as_of = bench.settings.today()
    tag = f"BENCH{int(time.time())}"
    (http_dying, raw_dying), (http_checked, raw_checked) = alternate(dying), alternate(checked)
    mixes = (
        Mix(http_dying, http_checked, load.alert_share, as_of, tag + "H"),
        Mix(raw_dying, raw_checked, load.alert_share, as_of, tag + "R"),
    )
    log(f"  {len(dying):,} planted deaths among {events:,} events, half by HTTP "
        f"({load.http_records} records a request), half on dept.*.raw")  # fmt: skip
    tokens = {
        feed: ww(bench.env, "token", "issue", "--role", "department", "--scope", feed).strip()
        for feed in (DEATHS, CHECKS)
    }
    port = _free_port(WEB_PORT)
    web_url = f"http://127.0.0.1:{port}"
    logs = bench.data_dir
    connectors = Service("connectors", ["connectors"], bench.env, logs / "connectors.log")
    web = Service("web", ["web", "--port", str(port)], bench.env, logs / "web.log")
    try:
        connectors.start()
        web.start()
        _wait_http(f"{web_url}/healthz", 60, web.check_alive)
        raw_topic = names.raw_topic(CHECKS)
        wait_for_group(bench, CONNECTORS_GROUP, raw_topic, 120, connectors.check_alive)
        warm = Mix([], checked[:1], 0, as_of, tag + "W").next(False)
        asyncio.run(warm_up(bench.kafka, web_url, tokens, warm))
        wait_caught_up(bench.settings, 120, connectors.check_alive)

        def drained() -> bool:
            return outstanding(bench.settings).total == 0

        drain_timeout = max(300.0, load.seconds * 10)
        return asyncio.run(
            measure(bench.kafka, web_url, tokens, mixes, load, drained, drain_timeout)
        )
    finally:
        web.stop()
        connectors.stop()


def _wait_http(url: str, timeout: float, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise BenchError(f"{url} did not answer within {timeout:.0f} s")


def _free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else one the system picks: the benchmark's port is
    in Linux's range for outgoing connections, so another process may hold it for a while."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise BenchError("no free port for the web app")
