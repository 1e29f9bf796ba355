"""Benchmark: `roster load` of a large snapshot in no particular order — rows/s and peak memory.

    .venv/bin/python bench/roster_load.py --rows 100000,1000000

For each size, writes a roster of that many rows (a person in every fourth row has a second
enrollment, and the people come in shuffled order, so the load must sort), runs
`welfare-watch roster load` on it against the stack at WW_KAFKA_BOOTSTRAP / WW_REDIS_URL, and
reports wall time, rows/s and the loader's peak resident memory (VmHWM, from /usr/bin/time);
then checks that roster.changes grew by one message per person plus an end marker per
partition. No worker is needed (nothing reads what is sent): run it on a scratch stack
(`welfare-watch stack up` with its own WW_DATA_DIR and ports), as it leaves the snapshots on
roster.changes for any worker that comes later.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from stdnum.cn import ric

from connectors.roster_file import COLUMNS
from welfare_watch import names
from welfare_watch.settings import Settings

WW = str(Path(sys.executable).parent / "welfare-watch")
DISTRICTS = ["210102", "210103", "210104", "210105", "210106"]  # 300,000 people each at most
PER_DISTRICT = 300_000


def person_id(index: int, district: str) -> str:
    """A valid ID number, distinct for each index below PER_DISTRICT in a district."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=index // 1000)
    body = f"{district}{birth:%Y%m%d}{index % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def _rows(index: int) -> list[list[str]]:
    district = DISTRICTS[index // PER_DISTRICT]
    pid = person_id(index % PER_DISTRICT, district)
    rows = [[pid, "测试人", "tekun", "", "individual", district, "某社区", f"cw-{district}-01",
             "1200.00", "2020-01-01", "active"]]  # fmt: skip
    if index % 3 == 0:  # a second enrollment: 3 people of 4 rows have one row, 1 has two
        rows.append([pid, "测试人", "elderly_allowance", "", "individual", district, "某社区",
                     f"cw-{district}-02", "100.00", "2021-06-01", "active"])  # fmt: skip
    return rows


def write_roster(path: Path, rows: int, seed: int = 7) -> int:
    """About `rows` rows, people shuffled; returns the number of people."""
    people = (rows * 3 + 3) // 4  # a third of them have two rows: 4/3 rows a person
    if people > PER_DISTRICT * len(DISTRICTS):
        sys.exit(f"at most {PER_DISTRICT * len(DISTRICTS) * 4 // 3:,} rows")
    order = list(range(people))
    random.Random(seed).shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index in order:
            writer.writerows(_rows(index))
    return people


def messages_on_roster_changes(bootstrap: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        topic = names.ROSTER_CHANGES
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def run(size: int, folder: Path, settings: Settings) -> None:
    path = folder / f"roster-{size}.csv"
    people = write_roster(path, size)
    with path.open(encoding="utf-8") as handle:
        rows = sum(1 for _ in handle) - 1
    megabytes = path.stat().st_size / 2**20
    before = messages_on_roster_changes(settings.env.kafka_bootstrap)
    started = time.monotonic()
    done = subprocess.run(
        ["/usr/bin/time", "-v", WW, "roster", "load", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    sent = messages_on_roster_changes(settings.env.kafka_bootstrap) - before
    expected = people + settings.policy.worker.partitions
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    print(done.stdout.strip())
    print(
        f"{rows:,} rows of {people:,} people ({megabytes:.0f} MiB): {seconds:.1f}s, "
        f"{rows / seconds:,.0f} rows/s, loader peak RSS (VmHWM) "
        f"{int(peak.group(1)) / 1024 if peak else float('nan'):.0f} MiB; "
        f"{sent:,} messages on roster.changes (expected {expected:,})",
        flush=True,
    )
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="comma-separated sizes")
    args = parser.parse_args()
    settings = Settings.load()
    folder = Path(tempfile.mkdtemp(prefix="ww-roster-bench-"))
    for size in (int(s) for s in args.rows.split(",")):
        run(size, folder, settings)
    folder.rmdir()


if __name__ == "__main__":
    main()
