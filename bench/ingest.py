"""Benchmark: one large department file through a connector — records/s and peak memory.

    .venv/bin/python bench/ingest.py --rows 1000000 [--way cli|filedrop]

Writes a vehicles file (no serial column, so every record id is a hash: the costlier case)
with a few bad rows mixed in, sends it through the chosen way into the stack at
WW_KAFKA_BOOTSTRAP, and reports wall time, records/s and the peak resident memory of the
connector process (from /usr/bin/time). Run `welfare-watch stack up` first.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stdnum.cn import ric

WW = str(Path(sys.executable).parent / "welfare-watch")
HEADER = ["所有人证件号码", "所有人姓名", "号牌号码", "车辆类型", "登记日期", "状态"]


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            body = f"210105{1940 + i % 60}0{1 + i % 9}1{i % 9}{i % 1000:03d}"
            pid = body + ric.calc_check_digit(body + "0")
            if i % 10_000 == 0:
                pid = pid[:-1] + ("0" if pid[-1] != "0" else "1")  # a bad check character
            writer.writerow([pid, "张三", f"辽A{i:07d}", "小型汽车", "2024-05-01", "注册"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--way", choices=["cli", "filedrop"], default="cli")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ww-ingest-"))
    data = folder / "vehicles.csv"
    write_file(data, args.rows)
    size = data.stat().st_size / 2**20
    env = dict(os.environ)
    if args.way == "cli":
        command = [WW, "ingest", "vehicles", str(data)]
    else:  # renamed into a fresh inbox; the connector takes it once stable (2 s by default)
        env["WW_DATA_DIR"] = str(folder / "data")
        inbox = folder / "data" / "inbox" / "vehicles"
        inbox.mkdir(parents=True)
        data = data.rename(inbox / data.name)
        command = [WW, "connectors", "--drain"]
    started = time.monotonic()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    print(done.stdout.strip())
    if args.way == "filedrop":
        print(_from_report(folder / "data" / "inbox" / "vehicles" / "done"))
    print(f"{args.rows:,} rows ({size:.0f} MiB) via {args.way}: {seconds:.1f}s, "
          f"{args.rows / seconds:,.0f} records/s, peak RSS "
          f"{int(peak.group(1)) / 1024 if peak else float('nan'):.0f} MiB")  # fmt: skip


def _from_report(done: Path) -> str:
    """The connector's own time for the file: from taking it (the report's received_at) to
    its report written, without the wait for the file to be stable or the process's start."""
    (report,) = done.glob("*.report.json")
    body = json.loads(report.read_text(encoding="utf-8"))
    taken = dt.datetime.fromisoformat(body["received_at"]).timestamp()
    seconds = report.stat().st_mtime - taken
    return (
        f"connector: {body['received']:,} records in {seconds:.1f}s from taking the file to its "
        f"report, {body['received'] / seconds:,.0f} records/s"
    )


if __name__ == "__main__":
    main()
