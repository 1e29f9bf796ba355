"""The benchmark's latency phase alone, to compare commits in one sitting (bench/RESULTS.md,
session 8): its own stack on the benchmark's ports, the quick city's roster, department files
and year of payments applied by one worker (as the benchmark does before its latency phase:
the people's states then hold their payments, which is most of what a worker reads and writes
per event), then the latency phase (bench.steady), and where the time of each planted death went:
from its fact on `ww.facts` to its alert saved (`detected_at`, the worker), and from there to
its record on `alerts` (the outbox relay). Also the end markers on `ww.facts` (one per
partition per delivery) and the worker's CPU time during the phase.

    .venv/bin/python -m bench.latency_alone [--appendfsync always]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from kafka import TopicPartition

from bench import phases
from bench.city import build
from bench.events import ALERT_TYPE
from bench.procs import ww
from bench.report import percentile
from bench.run import Options
from bench.stackenv import bench_env, down, up
from bench.steady import latency_phase
from welfare_watch import kafka, names


def _records(bootstrap: str, topic: str) -> Iterable[tuple[bytes | None, bytes, float]]:
    """Every record of `topic` from its start: (key, value, timestamp in epoch seconds)."""
    consumer = kafka.consumer_for(bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                for r in batch:
                    yield r.key, r.value, r.timestamp / 1000
    finally:
        consumer.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appendfsync", choices=("everysec", "always"))
    parser.add_argument("--rate", type=float, default=Options.rate)
    parser.add_argument("--seconds", type=float)
    given = parser.parse_args()
    options = Options(quick=True, rate=given.rate, seconds=given.seconds)  # as `bench --quick`

    def log(message: str) -> None:
        print(time.strftime("%H:%M:%S"), message, flush=True)

    bench = bench_env()
    up(bench, log)
    try:
        ww(bench.env, "reset", "--yes")
        today = bench.settings.today()
        city = build(
            bench.data_dir / "cities",
            options.target,
            options.seed,
            options.payment_months,
            today,
            bench.settings.policy,
        )
        phases.hold_the_daily_scan(bench, today)
        fsync = phases.appendfsync(bench, given.appendfsync)
        worker = phases.start_worker(bench)
        try:
            phases.roster_load(bench, city, worker, log)
            phases.facts(bench, city, worker, log)
            phases.payments(bench, city, worker, log)
            cpu, began = _cpu_seconds(worker.pid), time.time()
            result = latency_phase(bench, city, options.load, options.seed, log)
            cpu = _cpu_seconds(worker.pid) - cpu
        finally:
            worker.stop()
        first_fact: dict[str, float] = {}
        markers = 0
        for key, _, at in _records(bench.kafka, names.FACTS):
            if at < began:  # the files' and payments' facts
                continue
            if key is None:
                markers += 1
            else:
                first_fact.setdefault(key.decode(), at)
        saved, relayed = [], []
        for _, value, at in _records(bench.kafka, names.ALERTS):
            alert = json.loads(value)
            fact = first_fact.get(alert["person_id"])
            if alert["type"] == ALERT_TYPE and alert.get("version", 1) == 1 and fact:
                detected = dt.datetime.fromisoformat(alert["detected_at"]).timestamp()
                saved.append(detected - fact)
                relayed.append(at - detected)
    finally:
        down(bench, log)
    log(
        f"appendfsync {fsync}: on alerts p50 {result.p50:.2f} s p99 {result.p99:.2f} s; in the "
        f"store p50 {result.store_p50:.2f} s p99 {result.store_p99:.2f} s; {result.found} of "
        f"{result.planted} planted found, unexpected {result.unexpected}"
    )
    log(
        f"ww.facts -> saved p50 {percentile(saved, 50):.2f} s p99 {percentile(saved, 99):.2f} s; "
        f"saved -> alerts p50 {percentile(relayed, 50):.2f} s "
        f"p99 {percentile(relayed, 99):.2f} s; end markers on ww.facts {markers:,}; "
        f"worker CPU {cpu:.1f} s in the phase"
    )


if __name__ == "__main__":
    main()
