"""One batch of worker input: decode, load state, apply, evaluate, reconcile, publish, save."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from alerts.model import Alert, Trigger
from alerts.reconcile import reconcile
from connectors.errors import BadRecord
from connectors.roster_file import parse_roster_change
from streams.rules import Context, evaluate
from streams.state import PersonState, UnknownEnrollment, with_fact, with_roster_change
from streams.store import Changes, PersonStore
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact, RosterChange
from welfare_watch.settings import Settings


@dataclass(frozen=True)
class Message:
    topic: str
    value: bytes


@dataclass(frozen=True)
class Recheck:
    person_id: str


@dataclass(frozen=True)
class Rejected:
    topic: str
    record: str
    reason: str

    def as_json(self, at: dt.datetime) -> bytes:
        body = {"feed": self.topic, "record": self.record, "reason": self.reason}
        return json.dumps({**body, "rejected_at": at.isoformat()}, ensure_ascii=False).encode()


Decoded = Fact | RosterChange | Recheck


class Publisher(Protocol):
    """Where alert changes and undecodable messages go (the `alerts` and `dept.rejected` topics)."""

    async def publish(self, alerts: Sequence[Alert], rejected: Sequence[Rejected]) -> None: ...


def _decode(message: Message, settings: Settings) -> Decoded:
    if message.topic == names.FACTS:
        return Fact.model_validate_json(message.value)
    if message.topic == names.ROSTER_CHANGES:
        return parse_roster_change(
            message.value, settings.policy.programs, settings.policy.city.districts
        )
    person_id = json.loads(message.value)["person_id"]
    return Recheck(str(person_id))


def _trigger(item: Decoded) -> Trigger:
    if isinstance(item, Fact):
        return "payment" if item.kind == "payment" else "event"
    return "enrollment"


class BatchProcessor:
    def __init__(
        self,
        store: PersonStore,
        publisher: Publisher,
        settings: Settings,
        metrics: Metrics,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self._metrics = metrics
        self._clock = clock

    async def process(self, messages: Sequence[Message]) -> list[Alert]:
        now = self._clock()
        decoded: list[Decoded] = []
        rejected: list[Rejected] = []
        for message in messages:
            try:
                decoded.append(_decode(message, self._settings))
            except (ValidationError, BadRecord, ValueError, KeyError, TypeError) as exc:
                rejected.append(Rejected(message.topic, _text(message.value), _reason(exc)))
        person_ids = list(dict.fromkeys(item.person_id for item in decoded))
        loaded = await self._store.load(person_ids) if person_ids else None
        changes = Changes()
        changed_alerts: list[Alert] = []
        if loaded is not None:
            triggers = self._apply(decoded, loaded.states, changes, rejected)
            ctx = Context(self._settings.policy, self._settings.today())
            for pid, trigger in triggers.items():
                state = loaded.states[pid]
                alerts = reconcile(
                    evaluate(state, ctx),
                    loaded.alerts.get(pid, {}),
                    state.revoked,
                    now=now,
                    trigger=trigger,
                    policy=self._settings.policy,
                )
                if alerts:
                    changes.alerts[pid] = alerts
                    changed_alerts.extend(alerts)
        # Publish before saving: a crash in between replays the batch and publishes the
        # same alert versions again (consumers dedupe by alert_id and version), never loses one.
        if changed_alerts or rejected:
            await self._publisher.publish(changed_alerts, rejected)
        if changes and loaded is not None:
            await self._store.save(changes, loaded)
        self._count(changed_alerts, rejected, now)
        return changed_alerts

    def _apply(
        self,
        decoded: Sequence[Decoded],
        states: dict[str, PersonState],
        changes: Changes,
        rejected: list[Rejected],
    ) -> dict[str, Trigger]:
        triggers: dict[str, Trigger] = {}
        for item in decoded:
            pid = item.person_id
            state = states[pid]
            if isinstance(item, Fact):
                states[pid] = with_fact(state, item)
                if states[pid] is not state:
                    changes.facts[pid] = states[pid]
            elif isinstance(item, RosterChange):
                try:
                    states[pid] = with_roster_change(state, item)
                except UnknownEnrollment as exc:
                    rejected.append(
                        Rejected(names.ROSTER_CHANGES, item.model_dump_json(), str(exc))
                    )
                    continue
                changes.roster[pid] = states[pid]
            triggers[pid] = _trigger(item)
        # Facts saved after roster changes in one batch keep the latest state of both.
        for pid in changes.facts.keys() & changes.roster.keys():
            changes.facts[pid] = changes.roster[pid] = states[pid]
        return triggers

    def _count(
        self, alerts: Sequence[Alert], rejected: Sequence[Rejected], now: dt.datetime
    ) -> None:
        for alert in alerts:
            if alert.version == 1:
                self._metrics.alerts.labels(alert.type, alert.severity).inc()
                self._metrics.detection_latency.observe(
                    max(0.0, (alert.detected_at - alert.ingested_at).total_seconds())
                )
            else:
                self._metrics.alert_changes.labels(alert.history[-1].action).inc()
        for item in rejected:
            self._metrics.records_rejected.labels(item.topic).inc()


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "message"
        return f"{where}: {error['msg']}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
