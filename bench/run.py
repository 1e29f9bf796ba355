"""`welfare-watch bench`: the whole benchmark, step by step, in one run on the real stack.

1. its own stack (`stack up` on its own ports and data folder), everything welfare-watch owns
   there deleted (`reset`);
2. the city: simulated once for its size, seed and months of payments, then kept;
3. one worker: the roster (`roster load`), the department files, the payments, the daily scan,
   each timed until the worker has caught up; then the alerts checked against the city's
   expected ones (`evaluate`) and Redis's memory read;
4. the latency phase: a steady load of small deliveries by HTTP and dept.FEED.raw;
5. the worker's peak memory, the worker stopped; the raw limits (Kafka, Redis) on the same
   data; one connector alone;
6. the results file and one line.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import limits, machine, phases
from bench.city import PAYMENTS, City, build
from bench.latency import LatencyResult, Load
from bench.procs import Log, Service, ww
from bench.report import Step, Summary, summary_line, write_json
from bench.stackenv import AS_OF, DATA_DIR, BenchEnv, bench_env, down, up
from bench.steady import latency_phase

FULL = 1_000_000  # enrollments
QUICK = 100_000


@dataclass(frozen=True)
class Options:
    quick: bool = False
    enrollments: int | None = None  # None: FULL, or QUICK with `quick`
    seed: int = 7
    payment_months: int = 12
    rate: float = 2000.0  # events/s in the latency phase
    seconds: float | None = None  # of that load; None: 60, or 30 with `quick`
    http_records: int = 50  # records per HTTP request in the latency phase
    appendfsync: str | None = None  # Redis's appendfsync for the run; None: as the stack has it
    alert_share: float = 0.05  # of the latency phase's events, planted deaths
    ingest_rows: int = 1_000_000  # rows for the lone connector, at most
    keep_stack: bool = False
    data_dir: Path = DATA_DIR
    as_of: dt.date = AS_OF

    @property
    def target(self) -> int:
        return self.enrollments or (QUICK if self.quick else FULL)

    @property
    def load(self) -> Load:
        seconds = self.seconds or (30.0 if self.quick else 60.0)
        return Load(self.rate, seconds, self.http_records, self.alert_share)


@dataclass
class Results:
    """Everything measured, written to result.json at the end, or when a step fails."""

    options: dict[str, Any]
    machine: dict[str, object]
    started: str
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.figures[name] = value

    def step(self, name: str, step: Step | limits.Limit) -> None:
        self.figures.setdefault("steps", {})[name] = {
            "count": step.count,
            "seconds": step.seconds,
            "per_second": step.per_second,
            "unit": step.unit,
        }


@dataclass(frozen=True)
class Outcome:
    line: str  # the last line
    checked: bool  # every planted alert found and nothing unexpected, in both checks


def run(options: Options, log: Log) -> Outcome:
    """The benchmark; returns its last line. Writes `data_dir`/result.json in any case."""
    bench = bench_env(options.data_dir, options.as_of)
    results = Results(
        options={k: str(v) for k, v in vars(options).items()},
        machine=machine.describe(),
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    log(f"bench: Kafka {bench.kafka}, Redis {bench.redis_url}, data in {bench.data_dir}")
    up(bench, log)
    try:
        return _measure(bench, options, results, log)
    except BaseException as exc:
        results.add("failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        results.add("load_average_at_end", os.getloadavg())
        write_json(bench.data_dir / "result.json", vars(results))
        log(f"bench: results in {bench.data_dir / 'result.json'}")
        if options.keep_stack or not bench.own_stack:
            log("bench: the stack keeps running (stop it with `welfare-watch stack down`)")
        else:
            down(bench, log)


def _measure(bench: BenchEnv, options: Options, results: Results, log: Log) -> Outcome:
    log(f"bench: {ww(bench.env, 'reset', '--yes').strip()}")
    city = build(
        bench.data_dir / "cities",
        options.target,
        options.seed,
        options.payment_months,
        options.as_of,
        bench.settings.policy,
    )
    how = f"simulated in {city.seconds:.1f} s" if city.seconds else "kept from an earlier run"
    log(f"bench: city of {city.enrollments:,} enrollments ({city.people:,} people), "
        f"{city.facts:,} facts, {city.records[PAYMENTS]:,} payments ({city.payment_months} "
        f"months), {city.expected_alerts:,} expected alerts; {how}: {city.folder}")  # fmt: skip
    results.add("city", {k: v for k, v in vars(city).items() if k != "folder"})
    before = phases.used_memory(bench)
    phases.hold_the_daily_scan(bench, options.as_of)
    fsync = phases.appendfsync(bench, options.appendfsync)
    results.add("redis_appendfsync", fsync)
    log(f"bench: Redis appendfsync {fsync} (the outbox's settle, so the latency's floor: "
        f"{'0 s' if fsync == 'always' else '5 s'})")  # fmt: skip
    worker = phases.start_worker(bench)
    try:
        steps = _load(bench, city, worker, results, log)
        check = phases.evaluate(bench, city)
        results.add("evaluate", {**vars(check), "exact": check.exact})
        log(f"bench: evaluate: {check.found} found, {check.missed} missed, "
            f"{check.unexpected} unexpected{'' if check.exact else ' — NOT EXACT'}")  # fmt: skip
        after = phases.used_memory(bench)
        results.add("redis", {"used_memory_before": before, "used_memory_after": after})
        log("bench: latency phase")
        latency = latency_phase(bench, city, options.load, options.seed, log)
        results.add("latency", latency)
        _log_latency(latency, log)
        worker_peak = worker.peak_rss()
        results.add("worker_peak_rss_bytes", worker_peak)
    finally:
        worker.stop()
    log(f"bench: worker peak RSS {worker_peak / 2**20:,.0f} MiB; raw limits")
    kafka = limits.kafka_limit(bench.kafka)
    results.step("raw limit: kafka", kafka)
    log(f"  {kafka.what}: {kafka.count:,} in {kafka.seconds:.1f} s = {kafka.per_second:,.0f}/s")
    redis = limits.redis_limit(bench.redis_url, limits.person_keys(bench.redis_url))
    results.step("raw limit: redis", redis)
    log(f"  {redis.what}: {redis.count:,} in {redis.seconds:.1f} s = {redis.per_second:,.0f}/s")
    ingest = phases.ingest_alone(
        bench, city.feed_file(PAYMENTS), PAYMENTS, options.ingest_rows, log
    )
    results.step(ingest.name, ingest)
    facts, payments = steps["facts"], steps["payments"]
    both = Step("facts and payments", facts.count + payments.count,
                facts.seconds + payments.seconds, "events")  # fmt: skip
    results.step(both.name, both)
    summary = Summary(
        throughput=both.per_second,
        raw_limit=min(kafka.per_second, redis.per_second),
        latency_p50=latency.p50,
        latency_p99=latency.p99,
        latency_rate=options.rate,
        roster_load=steps["roster load"].per_second,
        scan=steps["scan"].per_second,
        ingest=ingest.per_second,
        redis_bytes=(after - before) / city.enrollments,
    )
    results.add("summary", {**vars(summary), "ratio": summary.ratio})
    checked = check.exact and not latency.missing and not latency.unexpected
    results.add("checked", checked)
    results.add("line", summary_line(summary))
    if not checked:
        log("bench: CHECK FAILED: planted alerts missing or unexpected ones raised (result.json)")
    return Outcome(summary_line(summary), checked)


def _load(
    bench: BenchEnv, city: City, worker: Service, results: Results, log: Log
) -> dict[str, Step]:
    """Each step with the worker running, recorded as soon as it is done."""
    steps: dict[str, Step] = {}
    log("bench: roster")
    steps["roster load command"], steps["roster load"] = phases.roster_load(
        bench, city, worker, log
    )
    results.step("roster load command", steps["roster load command"])
    results.step("roster load", steps["roster load"])
    stages: list[tuple[str, Callable[[], Step]]] = [
        ("facts", lambda: phases.facts(bench, city, worker, log)),
        ("payments", lambda: phases.payments(bench, city, worker, log)),
        ("scan", lambda: phases.scan(bench, worker, log)),
    ]
    for name, how in stages:
        log(f"bench: {name}")
        steps[name] = how()
        results.step(name, steps[name])
    return steps


def _log_latency(latency: LatencyResult, log: Log) -> None:
    log(f"  p50 {latency.p50:.2f} s, p99 {latency.p99:.2f} s on the alerts topic "
        f"({latency.found:,} of {latency.planted:,} planted alerts, {latency.missing} "
        f"missing, unexpected {latency.unexpected or 'none'}); in the store p50 "
        f"{latency.store_p50:.2f} s, p99 {latency.store_p99:.2f} s")  # fmt: skip
    for way in latency.ways:
        log(f"  {way.way}: p50 {way.p50:.2f} s, p99 {way.p99:.2f} s, max {way.max:.2f} s "
            f"({way.found:,} of {way.planted:,}; {way.refused:,} events refused)")  # fmt: skip
