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


def _identity(item: Mapping[str, Any]) -> tuple[str, str, str]:
    return (item["type"], item["person_id"], item.get("program") or "")


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


def compare(alerts: Iterable[Alert], expected: Iterable[Mapping[str, Any]]) -> Comparison:
    """Withdrawn alerts do not count as found: nothing stands behind them any more."""
    actual = {_identity(a.model_dump()): a for a in alerts if a.status != "withdrawn"}
    result = Comparison()
    wanted = set()
    for item in expected:
        identity = _identity(item)
        wanted.add(identity)
        alert = actual.get(identity)
        if alert is None:
            result.missed.append(dict(item))
            continue
        result.found[item["type"]] += 1
        if wrong := mismatches(alert, item):
            result.wrong.append((dict(item), wrong))
    result.unexpected = [a for i, a in actual.items() if i not in wanted]
    return result
