"""A person's actions on alerts, applied by the worker that owns the person: the one writer.

The web app puts a command on ww.commands keyed by person id; it arrives in the same partition,
in order, as everything else about that person, so an acknowledgement and a department record
never overwrite each other. The worker applies it to the alert as this batch leaves it, saves
the new version with the rest of the batch, and writes the outcome for the web app to read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from alerts.lifecycle import FALSE_MATCH, Command, Outcome, Refused, apply
from alerts.model import Alert
from streams.store import Changes, Loaded
from welfare_watch.metrics import Metrics


def apply_commands(
    commands: Sequence[Command],
    loaded: Loaded,
    changes: Changes,
    now: dt.datetime,
    metrics: Metrics,
) -> list[Alert]:
    """Apply each command in order; record its outcome in `changes`; return the new versions."""
    changed: list[Alert] = []
    for command in commands:
        pid = command.person_id
        current = {
            **loaded.alerts.get(pid, {}),
            **{a.alert_id: a for a in changes.alerts.get(pid, [])},
        }
        alert = current.get(command.alert_id)
        if alert is None:
            changes.outcomes.append(Outcome(command_id=command.command_id, ok=False, status=404,
                                            error=f"no alert {command.alert_id}"))  # fmt: skip
            continue
        if any(h.command_id == command.command_id for h in alert.history):
            # Applied before a crash, and read again: the same answer, no second change.
            changes.outcomes.append(Outcome(command_id=command.command_id, ok=True, alert=alert))
            continue
        try:
            updated = apply(alert, command, now)
        except Refused as exc:
            changes.outcomes.append(Outcome(command_id=command.command_id, ok=False,
                                            status=exc.status, error=exc.reason))  # fmt: skip
            continue
        changes.alerts.setdefault(pid, []).append(updated)
        changed.append(updated)
        changes.outcomes.append(Outcome(command_id=command.command_id, ok=True, alert=updated))
        if updated.resolution == FALSE_MATCH:
            for feed in false_match_feeds(updated):
                metrics.false_matches.labels(feed).inc()
    return changed


def false_match_feeds(alert: Alert) -> list[str]:
    """The departments whose records made a false match ("roster" when none did)."""
    return sorted({e.feed for e in alert.evidence if e.is_grounds}) or ["roster"]
