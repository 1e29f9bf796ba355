"""The benchmark's figures: percentiles, rates, the one summary line, and the results file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0-100) of `values`: a value that was measured, never an
    interpolation between two; NaN when there are none."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(count: int, seconds: float) -> float:
    """Items per second; 0 when nothing was timed."""
    return count / seconds if seconds > 0 else 0.0


@dataclass(frozen=True)
class Step:
    """One timed step: how many items it handled in how many seconds."""

    name: str
    count: int
    seconds: float
    unit: str  # what is counted: "events", "enrollments", "people", "records", "messages"

    @property
    def per_second(self) -> float:
        return rate(self.count, self.seconds)

    def describe(self) -> str:
        return (
            f"{self.name}: {self.count:,} {self.unit} in {self.seconds:.1f} s = "
            f"{self.per_second:,.0f} {self.unit}/s"
        )


@dataclass(frozen=True)
class Summary:
    """What the last line says."""

    throughput: float  # events/s, facts and payments together, end to end
    raw_limit: float  # events/s, the smaller of the two raw limits
    latency_p50: float  # seconds
    latency_p99: float  # seconds
    latency_rate: float  # events/s offered while latency was measured
    roster_load: float  # enrollments/s
    scan: float  # people/s
    ingest: float  # records/s, one connector
    redis_bytes: float  # per enrollment

    @property
    def ratio(self) -> float:
        return self.throughput / self.raw_limit if self.raw_limit > 0 else 0.0


def _seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def summary_line(s: Summary) -> str:
    """The benchmark's last line, in the words issue 11 fixed."""
    return (
        f"bench: throughput {s.throughput:.0f} events/s (raw limit {s.raw_limit:.0f} events/s, "
        f"ratio {s.ratio:.3f}), detection latency p50 {_seconds(s.latency_p50)} s "
        f"p99 {_seconds(s.latency_p99)} s at {s.latency_rate:.0f} events/s, "
        f"roster load {s.roster_load:.0f} enrollments/s, scan {s.scan:.0f} people/s, "
        f"ingest {s.ingest:.0f} records/s, redis {s.redis_bytes:.0f} bytes/enrollment"
    )


def _plain(value: Any) -> Any:
    """Dataclasses, paths and NaN made JSON-friendly (NaN becomes null)."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    return value


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(results), indent=2, ensure_ascii=False) + "\n")
