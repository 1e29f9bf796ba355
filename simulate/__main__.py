"""`python -m simulate --people N --seed S --out DIR [--as-of YYYY-MM-DD] [--payment-months M]`:
write a city."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from simulate.city import simulate_city
from simulate.core import PAID_MONTHS
from welfare_watch.settings import load_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulate", description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--config", type=Path, default=None, help="a WW_CONFIG override file")
    parser.add_argument(
        "--payment-months", type=int, default=PAID_MONTHS, help="months of payments (at least 3)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    policy = load_policy(args.config)
    stats = simulate_city(
        args.people, args.seed, args.out, args.as_of, policy, payment_months=args.payment_months
    )
    report = asdict(stats) | {"seconds": round(time.perf_counter() - started, 1)}
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
