"""Compare alerts with an expected_alerts.jsonl: per type, found / missed / unexpected."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.model import Alert
from welfare_watch.names import supervisor_queue

_SUPERVISOR_OF = "supervisor of "


def read_expected(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _identifies(alert: Alert, expected: Mapping[str, Any]) -> bool:
    """Type and person, plus whatever else the line names of the key: program, band, month."""
    if (alert.type, alert.person_id) != (expected["type"], expected["person_id"]):
        return False
    if "program" in expected and alert.program != expected["program"]:
        return False
    if "band" in expected and str(expected["band"]) not in alert.key[2:]:
        return False
    return "month" not in expected or expected["month"] in alert.key[2:]


def mismatches(alert: Alert, expected: Mapping[str, Any]) -> list[str]:
    """The expected fields (beyond the identity) that this alert gets wrong."""
    wrong = []
    if "confidence" in expected and alert.confidence != expected["confidence"]:
        wrong.append(f"confidence {alert.confidence} != {expected['confidence']}")
    if "amount_at_risk" in expected and f"{alert.amount_at_risk:.2f}" != expected["amount_at_risk"]:
        wrong.append(f"amount_at_risk {alert.amount_at_risk} != {expected['amount_at_risk']}")
    if "evidence_feeds" in expected:
        feeds = sorted({e.feed for e in alert.evidence})
        if feeds != sorted(expected["evidence_feeds"]):
            wrong.append(f"evidence_feeds {feeds} != {sorted(expected['evidence_feeds'])}")
    if "queue" in expected:
        queue = expected["queue"]
        if queue.startswith(_SUPERVISOR_OF):
            queue = supervisor_queue(queue.removeprefix(_SUPERVISOR_OF))
        if alert.queue != queue:
            wrong.append(f"queue {alert.queue} != {queue}")
    return wrong


@dataclass
class Comparison:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    missed: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[Alert] = field(default_factory=list)
    wrong: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missed or self.unexpected or self.wrong)

    def by_type(self) -> dict[str, tuple[int, int, int, int]]:
        """type -> (found, missed, unexpected, found with wrong fields)."""
        types = {*self.found, *(m["type"] for m in self.missed), *(a.type for a in self.unexpected)}
        return {
            t: (
                self.found.get(t, 0),
                sum(1 for m in self.missed if m["type"] == t),
                sum(1 for a in self.unexpected if a.type == t),
                sum(1 for w, _ in self.wrong if w["type"] == t),
            )
            for t in types
        }


def compare(alerts: Iterable[Alert], expected: Iterable[Mapping[str, Any]]) -> Comparison:
    """Each expected line matches one alert. Withdrawn alerts count for nothing: no evidence
    stands behind them any more."""
    by_person: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for alert in alerts:
        if alert.status != "withdrawn":
            by_person[(alert.type, alert.person_id)].append(alert)
    result = Comparison()
    for item in expected:
        candidates = by_person.get((item["type"], item["person_id"]), [])
        match = next((a for a in candidates if _identifies(a, item)), None)
        if match is None:
            result.missed.append(dict(item))
            continue
        candidates.remove(match)
        result.found[item["type"]] += 1
        if wrong := mismatches(match, item):
            result.wrong.append((dict(item), wrong))
    result.unexpected = [a for left in by_person.values() for a in left]
    return result
