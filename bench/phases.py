"""The timed steps of loading the city through the real stack, with one worker running."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from kafka.errors import KafkaError

from bench.city import FACT_FEEDS, PAYMENTS, City
from bench.procs import BenchError, Log, Service, timed, wait_caught_up, ww
from bench.report import Step
from bench.stackenv import BenchEnv
from connectors.ingest import ingest_file
from welfare_watch import kafka, names, redis_client


def start_worker(bench: BenchEnv, timeout: float = 120) -> Service:
    """One `welfare-watch worker`, once the group has given it the worker's input partitions."""
    worker = Service("worker", ["worker"], bench.env, bench.data_dir / "worker.log").start()
    try:
        wait_for_group(bench, names.WORKER_GROUP, names.FACTS, timeout, worker.check_alive)
    except BaseException:
        worker.stop()
        raise
    return worker


def wait_for_group(
    bench: BenchEnv, group: str, topic: str, timeout: float, alive: Callable[[], None]
) -> None:
    """Until the consumer group is stable with partitions of `topic` assigned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        try:
            with kafka.admin(bench.kafka) as client:
                described = cast(dict[str, dict[str, object]], client.describe_groups([group]))
        except KafkaError:  # no coordinator yet on a new broker: ask again
            described = {}
        if _assigned(described.get(group, {}), topic):
            return
        time.sleep(0.5)
    raise BenchError(f"consumer group {group} got no partitions of {topic} in {timeout:.0f} s")


def _assigned(group: dict[str, object], topic: str) -> bool:
    if group.get("group_state") != "Stable":
        return False
    for member in cast(list[dict[str, dict[str, list[dict[str, object]]]]], group["members"]):
        for assigned in member.get("member_assignment", {}).get("assigned_partitions", []):
            if assigned.get("topic") == topic and assigned.get("partitions"):
                return True
    return False


def _timeout(items: int) -> float:
    """Generous: ten minutes, or 100 items/s, whichever is longer."""
    return max(600.0, items / 100)


def roster_load(bench: BenchEnv, city: City, worker: Service, log: Log) -> tuple[Step, Step]:
    """`roster load` (the loader alone), then until the worker has applied it (the figure)."""
    output, loading = timed(bench.env, "roster", "load", str(city.roster))
    found = re.search(r"loaded: (\d+) enrollments", output)
    enrollments = int(found.group(1)) if found else city.enrollments
    waited = wait_caught_up(bench.settings, _timeout(enrollments), worker.check_alive)
    sent = Step("roster load command", enrollments, loading, "enrollments")
    applied = Step("roster load", enrollments, loading + waited, "enrollments")
    log(f"  {sent.describe()}")
    log(f"  {applied.describe()} (until the worker has applied it)")
    return sent, applied


def send_files(
    bench: BenchEnv, city: City, feeds: tuple[str, ...], worker: Service, log: Log, name: str
) -> Step:
    """Each feed's file through its connector, in this order and in this process (one
    interpreter start for all: `ingest_file` is what `welfare-watch ingest` calls), then until
    the worker has caught up: connector -> Kafka -> worker -> alerts on the topic."""
    started = time.monotonic()
    accepted = 0
    for feed in feeds:
        result = ingest_file(bench.settings, feed, city.feed_file(feed))
        accepted += result.accepted
        if result.rejected:
            log(f"  {feed}: {result.rejected} records rejected (see dept.rejected)")
    sent = time.monotonic() - started
    waited = wait_caught_up(bench.settings, _timeout(accepted), worker.check_alive)
    step = Step(name, accepted, sent + waited, "events")
    log(f"  {step.describe()} (sending {sent:.1f} s, then the worker {waited:.1f} s more)")
    return step


def facts(bench: BenchEnv, city: City, worker: Service, log: Log) -> Step:
    return send_files(bench, city, FACT_FEEDS, worker, log, "facts")


def payments(bench: BenchEnv, city: City, worker: Service, log: Log) -> Step:
    return send_files(bench, city, (PAYMENTS,), worker, log, "payments")


def scan(bench: BenchEnv, worker: Service, log: Log) -> Step:
    output, queuing = timed(bench.env, "scan")
    found = re.search(r"scan queued for (\d+) people", output)
    if not found:
        raise BenchError(f"scan said: {output.strip()}")
    people = int(found.group(1))
    waited = wait_caught_up(bench.settings, _timeout(people), worker.check_alive)
    step = Step("scan", people, queuing + waited, "people")
    log(f"  {step.describe()}")
    return step


@dataclass(frozen=True)
class Check:
    """`welfare-watch evaluate` against the city's expected alerts."""

    found: int
    missed: int
    unexpected: int

    @property
    def exact(self) -> bool:
        return self.missed == 0 and self.unexpected == 0


def evaluate(bench: BenchEnv, city: City) -> Check:
    output, _ = timed(bench.env, "evaluate", "--expected", str(city.expected), ok=(0, 1))
    found = re.search(r"(\d+) found, (\d+) missed, (\d+) unexpected", output)
    if not found:
        raise BenchError(f"evaluate said: {output.strip()[-500:]}")
    return Check(*(int(n) for n in found.groups()))


def hold_the_daily_scan(bench: BenchEnv, day: dt.date) -> None:
    """Record `day` as scanned, so that the worker's own daily scan (due as soon as a roster
    is there) does not run in the middle of the load: raising the time-based alerts before the
    deaths arrive would leave them open, annotated (rules.md, "Precedence"), and make the
    result depend on the timing. The benchmark runs the scan itself, as its own step."""
    client = redis_client.connect(bench.redis_url)
    try:
        client.set(names.LAST_SCAN, day.isoformat())
    finally:
        client.close()


def appendfsync(bench: BenchEnv, policy: str | None) -> str:
    """Set Redis's appendfsync (CONFIG SET) when `policy` is given; the one in force. It sets
    the outbox's settle (streams/outbox.py): 5 s with everysec, 0 with always, and so the floor
    of the detection latency."""
    client = redis_client.connect(bench.redis_url)
    try:
        if policy:
            client.config_set("appendfsync", policy)
        found = cast(dict[str, str], client.config_get("appendfsync"))
    finally:
        client.close()
    return str(found.get("appendfsync", "?"))


def used_memory(bench: BenchEnv) -> int:
    """Redis's used_memory, summed over the nodes of a cluster."""
    client = redis_client.connect(bench.redis_url)
    try:
        info = cast(dict[str, object], client.info("memory"))
    finally:
        client.close()
    if "used_memory" in info:
        return int(cast(int, info["used_memory"]))
    nodes = cast(dict[str, dict[str, int]], info)
    return sum(int(node["used_memory"]) for node in nodes.values())


def ingest_alone(bench: BenchEnv, file: Path, feed: str, rows: int, log: Log) -> Step:
    """One connector process (`welfare-watch ingest`) with nothing else running; the rate it
    reports itself (the interpreter's start is left out)."""
    sample = file if rows <= 0 else _head(file, rows, bench.data_dir / f"ingest-{feed}.csv")
    output = ww(bench.env, "ingest", feed, str(sample))
    found = re.search(r"received (\d+), accepted (\d+).*\(([\d,]+) records/s\)", output)
    if not found:
        raise BenchError(f"ingest said: {output.strip()}")
    received, per_second = int(found.group(1)), float(found.group(3).replace(",", ""))
    step = Step("ingest (one connector)", received, received / per_second, "records")
    log(f"  {step.describe()}")
    return step


def _head(file: Path, rows: int, out: Path) -> Path:
    """The header and the first `rows` records of a CSV file."""
    with file.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as target:
        for index, line in enumerate(source):
            if index > rows:
                break
            target.write(line)
    return out
