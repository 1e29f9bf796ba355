"""One batch of worker input: decode, load state, apply, evaluate, reconcile, publish, save."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from pydantic import ValidationError

from alerts.audit_chain import Draft, worker_chain
from alerts.escalation import overdue
from alerts.lifecycle import Command
from alerts.model import TRIGGERS, Alert, Trigger
from alerts.reconcile import reconcile
from connectors.delivery import SNAPSHOT_FEED, DeliveryEnd, SnapshotBegin
from connectors.errors import BadRecord
from connectors.feedspec import NAME_PATTERN
from connectors.ids import mask_id
from connectors.parse import Rejection
from connectors.roster_file import parse_roster_change
from streams.commands import apply_commands
from streams.deadletter import DeadLetter, DeadLetterSink, describe_error
from streams.offsets import advanced, batch_high_water, covered
from streams.outbox import outbox_partition
from streams.rules import Context, evaluate
from streams.rules.sources import refutations, stale_sources
from streams.snapshots import (
    WAITING_ORDER,
    SnapshotProgress,
    still_open,
    waited_for,
    waiting_delivery,
    whole_markers,
)
from streams.state import (
    PersonState,
    UnknownEnrollment,
    superseded,
    with_fact,
    with_roster_change,
    with_snapshot,
)
from streams.store import Changes, Loaded, PersonStore
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact, RosterChange, SnapshotEntry
from welfare_watch.settings import Settings


@dataclass(frozen=True)
class Message:
    topic: str
    value: bytes
    partition: int = 0
    offset: int | None = None  # None when not read from Kafka
    # As read, for ww.deadletter to keep the message whole (streams.deadletter).
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: float | None = None  # Kafka's, epoch seconds: when a roster change was made

    @property
    def source(self) -> str:
        """Where it was read, as a rejection names it: `roster.changes/3/1207`."""
        if self.offset is None:
            return self.topic
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class Recheck:
    """Re-evaluate one person: after a roster load ("enrollment"), in the daily scan, or
    because someone in their household changed in a partition another worker owns (the
    trigger of that change)."""

    person_id: str
    trigger: Trigger = "enrollment"
    as_of: dt.date | None = None

    def as_json(self) -> bytes:
        body: dict[str, str] = {"person_id": self.person_id, "trigger": self.trigger}
        if self.as_of is not None:
            body["as_of"] = self.as_of.isoformat()
        return json.dumps(body).encode()


_FEED_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Rejected:
    """A worker input that cannot be used: the same Rejection a connector sends to
    dept.rejected, and the topic it came from, the worker_rejected metric's only label."""

    topic: str
    rejection: Rejection

    @classmethod
    def of(cls, topic: str, text: str, reason: str, source: str = "") -> Rejected:
        """The message `text` read from `topic` (at `source`, when known) and why it failed."""
        rejection = Rejection(
            feed=cls._feed_named(topic, text),
            source=source or topic,
            record={"message": text},
            reason=reason,
        )
        return cls(topic, rejection)

    def as_json(self, at: dt.datetime) -> bytes:
        return self.rejection.as_json(at)

    @staticmethod
    def _feed_named(topic: str, text: str) -> str | None:
        """The feed a fact message names, if it names one; other inputs belong to no feed."""
        if topic != names.FACTS:
            return None
        try:
            body = json.loads(text)
        except ValueError:
            return None
        feed = body.get("feed") if isinstance(body, dict) else None
        return feed if isinstance(feed, str) and _FEED_NAME.fullmatch(feed) else None


Decoded = Fact | RosterChange | SnapshotEntry | Recheck | DeliveryEnd | Command
Read = Decoded | SnapshotBegin  # the begin markers are taken out first (_without_superseded)
Marker = DeliveryEnd | SnapshotBegin  # about no one person: sent to every partition, no key

log = logging.getLogger("welfare_watch.worker")


class AuditTrail(Protocol):
    """Where alert state changes are recorded (alerts.audit.AuditLog)."""

    async def append_many(self, chain: str, entries: Sequence[Draft]) -> Sequence[object]: ...


class Publisher(Protocol):
    """Where undecodable messages go (`dept.rejected`), and re-checks of people another
    worker owns (`ww.recheck`). (Alerts reach Kafka through the outbox, streams/outbox.py.)"""

    async def publish(self, alerts: Sequence[Alert], rejected: Sequence[Rejected]) -> None: ...

    async def recheck(self, rechecks: Sequence[Recheck]) -> None: ...

    async def roster_markers(self, markers: Sequence[tuple[int, bytes]]) -> None:
        """End markers onto roster.changes, each on its partition (streams.snapshots)."""


def _recheck(value: bytes) -> Recheck:
    body = json.loads(value)
    trigger = body.get("trigger", "enrollment")
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown recheck trigger {trigger!r}")
    as_of = dt.date.fromisoformat(body["as_of"]) if body.get("as_of") else None
    return Recheck(str(body["person_id"]), trigger, as_of)


def _decode(message: Message, settings: Settings) -> Read:
    if message.topic == names.COMMANDS:
        return Command.model_validate_json(message.value)
    if message.topic == names.FACTS:
        if DeliveryEnd.is_marker(message.value):
            return DeliveryEnd.decode(message.value, message.partition)
        return Fact.model_validate_json(message.value)
    if message.topic == names.ROSTER_CHANGES:
        if DeliveryEnd.is_marker(message.value):  # the end of a snapshot, in this partition
            return DeliveryEnd.decode(message.value, message.partition)
        if SnapshotBegin.is_marker(message.value):
            return SnapshotBegin.decode(message.value, message.partition)
        policy = settings.policy
        change = parse_roster_change(message.value, policy.programs, policy.city.districts)
        if isinstance(change, RosterChange) and change.changed_at is None and message.timestamp:
            made = dt.datetime.fromtimestamp(message.timestamp, dt.UTC)
            change = change.model_copy(update={"changed_at": made})
        return change
    return _recheck(message.value)


class WrongKey(ValueError):
    """A message keyed by something other than its person: it may sit in another partition
    than the person's other messages, so another worker could write the same person."""


def _check_key(message: Message, item: Read) -> None:
    """A message read from Kafka about a person must be keyed by their ID number (end
    markers, about no one person, are sent to each partition and carry no key)."""
    if message.offset is None or isinstance(item, Marker):
        return
    if message.key != item.person_id.encode():
        raise WrongKey(
            "the message key is not its person_id: every message about a person must be keyed "
            "by their ID number, so that all of them reach the same partition"
        )


def _trigger(item: Fact | RosterChange | SnapshotEntry | Recheck) -> Trigger:
    if isinstance(item, Fact):
        return "payment" if item.kind == "payment" else "event"
    if isinstance(item, Recheck):
        return item.trigger
    return "enrollment"


# Of the triggers a person ending in two pending sets at once could have, the one they keep.
_RANK = {trigger: rank for rank, trigger in enumerate(WAITING_ORDER)}
_MAX_HOUSEHOLD_HOPS = 4  # person -> households -> members -> their households ...
# A delivery's people in one partition, evaluated at its end marker, at most this many at once:
# more are evaluated and saved a chunk at a time first (BatchProcessor._evaluate_ahead), so
# that a department's file of a million rows needs no more memory than one of ten thousand.
EVALUATE_AT_ONCE = 5000


@dataclass
class _Work:
    """Who to re-evaluate in this batch, why, and as of which date."""

    triggers: dict[str, Trigger]
    as_of: dict[str, dt.date]
    partitions: set[int] = field(default_factory=set)  # the batch's: whose people it writes
    changed: set[str] = field(default_factory=set)  # whose facts or enrollments this batch brings
    # household members another worker owns, to re-evaluate there (one writer per person)
    elsewhere: dict[str, Trigger] = field(default_factory=dict)
    # people evaluated because the roster snapshot they waited for is whole: they do not wait
    # for it again (its sets are ended by the abandoned sweep too, whole or not)
    waited: dict[str, str] = field(default_factory=dict)


class BatchProcessor:
    def __init__(
        self,
        store: PersonStore,
        publisher: Publisher,
        settings: Settings,
        metrics: Metrics,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        audit: AuditTrail | None = None,
        deadletters: DeadLetterSink | None = None,  # where a person whose evaluation raised goes
    ) -> None:
        self._audit = audit
        self._deadletters = deadletters
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._partitions = settings.policy.worker.partitions  # of the worker's input topics

    async def process(self, messages: Sequence[Message]) -> list[Alert]:
        now = self._clock()
        decoded: list[Read] = []
        rejected: list[Rejected] = []
        partition_of: dict[str, int] = {}  # one person's messages share a partition
        read_from: list[Message] = []  # each decoded item's message
        for message in messages:
            try:
                item = _decode(message, self._settings)
                _check_key(message, item)
                decoded.append(item)
                read_from.append(message)
                if not isinstance(item, Marker):
                    partition_of[item.person_id] = message.partition
            except (ValidationError, BadRecord, ValueError, KeyError, TypeError) as exc:
                text, reason = _text(message.value), _reason(exc)
                rejected.append(Rejected.of(message.topic, text, reason, message.source))
        changes = Changes(seen_at=now.timestamp())
        items, read_from = await self._without_superseded(decoded, read_from, changes)
        people = [i.person_id for i in items if not isinstance(i, DeliveryEnd)]
        await self._evaluate_ahead([i for i in items if isinstance(i, DeliveryEnd)], people, now)
        loaded = await self._store.load(list(dict.fromkeys(people)))
        items = _not_yet_saved(items, read_from, loaded, changes)
        changes.progress = batch_high_water(
            (m.topic, m.partition, m.offset) for m in messages if m.offset is not None
        )
        work = self._apply(items, partition_of, loaded.states, changes, rejected)
        work.partitions = {m.partition for m in messages}
        await self._end_deliveries(items, work, loaded, changes)
        await self._wait_for_snapshots(work, loaded, changes)
        await self._add_households(work, loaded, changes)
        await self._spare_rechecks(work, loaded, changes)
        await self._defer_mid_delivery(work, loaded, changes, ending=changes.delivered)
        changed_alerts = await self._evaluate(work, loaded, changes, now)
        commands = [i for i in items if isinstance(i, Command)]
        changed_alerts += apply_commands(commands, loaded, changes, now, self._metrics)
        # Alerts reach Kafka from the outbox that the save writes (streams/outbox.py), so a
        # version on `alerts` is the one saved, byte for byte; rejections go out before the
        # save (a replayed batch may reject a message again).
        if rejected:
            await self._publisher.publish([], rejected)
        await self._write(work, loaded, changes, changed_alerts)
        self._count(items, changed_alerts, rejected)
        return changed_alerts

    async def _without_superseded(
        self, decoded: Sequence[Read], read_from: Sequence[Message], changes: Changes
    ) -> tuple[list[Decoded], list[Message]]:
        """The items without the snapshots' begin markers (recorded, per partition, for the
        save) and without the roster changes older than a snapshot begun before them in their
        partition (state.superseded)."""
        roster = {m.partition for i, m in zip(decoded, read_from, strict=True)
                  if isinstance(i, RosterChange | SnapshotBegin)}  # fmt: skip
        if not roster:  # no begin marker either
            return [i for i in decoded if not isinstance(i, SnapshotBegin)], list(read_from)
        begun = await self._store.snapshots_begun(roster)
        kept: list[Decoded] = []
        kept_from: list[Message] = []
        for item, message in zip(decoded, read_from, strict=True):
            if isinstance(item, SnapshotBegin):
                changes.snapshots_seen.add(item.snapshot)
                if message.offset is not None:
                    begun[message.partition].append((message.offset, item.taken))
                    new = changes.snapshots_begun.setdefault(message.partition, {})
                    new[message.offset] = item.taken
                continue
            if isinstance(item, RosterChange) and superseded(
                item.changed_at, message.offset, begun[message.partition]
            ):
                continue
            kept.append(item)
            kept_from.append(message)
        if left := len(decoded) - len(kept) - sum(map(len, changes.snapshots_begun.values())):
            log.info("%d roster changes left out: made before a snapshot begun before them", left)
        return kept, kept_from

    async def _write(
        self, work: _Work, loaded: Loaded, changes: Changes, changed_alerts: list[Alert]
    ) -> None:
        """Re-checks for other workers' people, the audit entries, then the save."""
        elsewhere = [Recheck(pid, trigger) for pid, trigger in sorted(work.elsewhere.items())]
        if elsewhere:  # before the save too: a crash right after it would lose them
            await self._publisher.recheck(elsewhere)
        if changed_alerts and self._audit is not None:  # recorded before saved, like publishing
            partitions = self._settings.policy.worker.partitions
            for chain, entries in audit_entries(changed_alerts, partitions).items():
                await self._audit.append_many(chain, entries)
        whole = await self._store.save(changes, loaded) if changes else []
        if elsewhere:  # and after it, so that their owner sees this batch's people saved
            await self._publisher.recheck(elsewhere)
        for snapshot in whole:  # the people who waited for it, evaluated in their partitions
            log.info("a roster snapshot has ended in every partition: its households are judged")
            await self._publisher.roster_markers(whole_markers(snapshot, self._partitions))

    async def _evaluate_ahead(
        self, ends: Sequence[DeliveryEnd], people: Sequence[str], now: dt.datetime
    ) -> None:
        """When more than EVALUATE_AT_ONCE of a delivery's people wait in a partition, evaluate
        all but the last EVALUATE_AT_ONCE of them now, a chunk at a time, each chunk saved and
        taken off the pending set; the batch then evaluates the rest, as for a small delivery.
        People with messages in this batch (`people`) wait for it (their state is not whole
        before it is applied). A crash between chunks leaves the rest pending: the end marker,
        read again, goes on from there. (One round trip for the sizes of all the batch's.)"""
        sets = _ended_sets(ends)
        sizes = await self._store.pending_sizes(list(sets)) if sets else []
        for (key, (trigger, whole)), size in zip(sets.items(), sizes, strict=True):
            if size > EVALUATE_AT_ONCE:
                await self._evaluate_chunks(key, trigger, whole, set(people), now)

    async def _evaluate_chunks(
        self,
        key: tuple[str, int],
        trigger: Trigger,
        whole: bool,  # the set waited for a roster snapshot that is whole now
        in_batch: set[str],
        now: dt.datetime,
    ) -> None:
        waiting = sorted(await self._store.pending(*key) - in_batch)
        ahead = waiting[: max(0, len(waiting) - EVALUATE_AT_ONCE)]
        for start in range(0, len(ahead), EVALUATE_AT_ONCE):
            chunk = ahead[start : start + EVALUATE_AT_ONCE]
            loaded = await self._store.load(chunk)
            work = _Work({pid: trigger for pid in chunk}, {}, {key[1]}, set(chunk))
            if whole and (waits := waited_for(key[0])):
                work.waited = dict.fromkeys(chunk, waits[0])
            changes = Changes(seen_at=now.timestamp(), evaluated={key: set(chunk)})
            await self._wait_for_snapshots(work, loaded, changes)
            await self._add_households(work, loaded, changes)
            await self._spare_rechecks(work, loaded, changes)
            await self._defer_mid_delivery(work, loaded, changes, ending=[key])
            changed_alerts = await self._evaluate(work, loaded, changes, now)
            await self._write(work, loaded, changes, changed_alerts)
            self._count((), changed_alerts, ())

    def _apply(
        self,
        decoded: Sequence[Decoded],
        partition_of: dict[str, int],
        states: dict[str, PersonState],
        changes: Changes,
        rejected: list[Rejected],
    ) -> _Work:
        work = _Work({}, {})
        for item in decoded:
            if isinstance(item, DeliveryEnd | Command):  # commands are applied after evaluation
                continue
            pid = item.person_id
            state = states[pid]
            if isinstance(item, Fact):
                states[pid] = with_fact(state, item)
                if states[pid] is not state:
                    changes.facts[pid] = states[pid]
                    work.changed.add(pid)
                if _pend(item, partition_of[pid], changes):  # evaluated at its end marker
                    continue
            elif isinstance(item, RosterChange):
                try:
                    states[pid] = with_roster_change(state, item)
                except UnknownEnrollment as exc:
                    rejected.append(
                        Rejected.of(names.ROSTER_CHANGES, item.model_dump_json(), str(exc))
                    )
                    continue
                changes.roster[pid] = states[pid]
                work.changed.add(pid)
                _join(states[pid], changes)
            elif isinstance(item, SnapshotEntry):  # evaluated at the snapshot's end marker
                states[pid] = changes.roster[pid] = with_snapshot(state, item)
                changes.snapshots_seen.add(item.snapshot)
                _pend(item, partition_of[pid], changes)
                _join(states[pid], changes)
                continue
            elif item.as_of is not None:
                work.as_of[pid] = item.as_of
            work.triggers[pid] = _trigger(item)
        # Facts saved after roster changes in one batch keep the latest state of both.
        for pid in changes.facts.keys() & changes.roster.keys():
            changes.facts[pid] = changes.roster[pid] = states[pid]
        return work

    async def _end_deliveries(
        self, decoded: Sequence[Decoded], work: _Work, loaded: Loaded, changes: Changes
    ) -> None:
        """At a delivery's end marker, evaluate everyone its facts touched in that partition
        (the pending sets of all the batch's end markers read in one round trip, their people
        loaded in another)."""
        ends = [i for i in decoded if isinstance(i, DeliveryEnd)]
        if not ends:
            return
        sets = _ended_sets(ends)
        stored = await self._store.pending_many(list(sets))
        ended: dict[str, Trigger] = {}
        for (key, (trigger, whole)), members in zip(sets.items(), stored, strict=True):
            people = members | changes.pending.pop(key, set())
            changes.delivered.append(key)
            if whole and (waits := waited_for(key[0])):
                work.waited.update(dict.fromkeys(people, waits[0]))
            for pid in people:  # someone in two sets: the department's record's trigger
                if pid not in ended or _RANK[trigger] < _RANK[ended[pid]]:
                    ended[pid] = trigger
        for pid, trigger in ended.items():
            work.triggers.setdefault(pid, trigger)
        everyone = set(ended)
        for end in ends:
            if end.feed == SNAPSHOT_FEED and not waited_for(end.delivery):  # the snapshot's own
                changes.snapshots_ended.setdefault(end.delivery, set()).add(end.partition)
            if end.feed and end.feed != SNAPSHOT_FEED and not end.abandoned:
                at = (end.at or self._clock()).timestamp()
                changes.feeds_delivered[end.feed] = max(
                    changes.feeds_delivered.get(end.feed, 0), at
                )
        loaded.add(await self._store.load(sorted(everyone - loaded.states.keys())))
        work.changed |= everyone

    async def _wait_for_snapshots(self, work: _Work, loaded: Loaded, changes: Changes) -> None:
        """While a roster snapshot is open (some partition has applied some of it, another has
        not ended it), whoever has a household waits for it to be whole instead of being
        evaluated, in a pending set of their partition, with what brought them in
        (streams.snapshots). A re-check for another day than today (a scan run for a past
        date) does not wait: its date would be lost."""
        today = self._settings.today()
        candidates = [
            pid
            for pid in work.triggers
            if work.as_of.get(pid, today) == today
            and any(e.household_id for e in loaded.states[pid].enrollments)
        ]
        if not candidates:
            return
        known = {s.snapshot: s for s in await self._store.snapshots()}
        for name in changes.snapshots_seen - known.keys():  # this batch's first of it
            known[name] = SnapshotProgress(name, changes.seen_at)
        open_now = still_open(known.values(), changes.snapshots_ended, self._partitions)
        waiting = 0
        for pid in candidates:
            waits_for = next((s for s in open_now if s != work.waited.get(pid)), None)
            if waits_for is None:
                continue
            trigger = work.triggers.pop(pid)
            work.as_of.pop(pid, None)
            key = (waiting_delivery(waits_for, trigger), outbox_partition(pid, self._partitions))
            changes.pending.setdefault(key, set()).add(pid)
            changes.pending_of[key] = (SNAPSHOT_FEED, trigger == "payment")
            waiting += 1
        if waiting:
            log.debug("%d people wait for a roster snapshot to reach all of it", waiting)

    async def _add_households(self, work: _Work, loaded: Loaded, changes: Changes) -> None:
        """A change to anyone in a household re-evaluates everyone in it (rule 13), and everyone
        evaluated sees all the households they belong to."""
        members: dict[str, set[str]] = {}
        cause: dict[str, str] = {}  # household -> the person whose change brought it in
        people = list(work.triggers)
        for _ in range(_MAX_HOUSEHOLD_HOPS):
            wanted = {
                e.household_id: pid
                for pid in people
                for e in loaded.states[pid].enrollments
                if e.household_id and e.household_id not in members
            }
            if not wanted:
                break
            members.update(await self._store.households(sorted(wanted)))
            for household, pid in wanted.items():
                cause.setdefault(household, pid)
            self._join_households(people, loaded, members, changes)
            people = sorted(set().union(*members.values()) - loaded.states.keys())
            loaded.add(await self._store.load(people))
        for household, ever in members.items():
            # the set only grows: a member is one while their enrollments name the household
            pids = sorted(p for p in ever if _enrolled_in(loaded.states[p], household))
            trigger = work.triggers.get(cause[household], "event")
            changed = not work.changed.isdisjoint(pids)
            for pid in pids:
                if pid in work.triggers:
                    pass
                elif outbox_partition(pid, self._partitions) in work.partitions:
                    work.triggers[pid] = trigger
                    if cause[household] in work.as_of:
                        work.as_of.setdefault(pid, work.as_of[cause[household]])
                elif changed:  # another worker's: re-checked there, never written here
                    work.elsewhere.setdefault(pid, trigger)
                others = tuple(loaded.states[m] for m in pids if m != pid)
                state = loaded.states[pid]
                loaded.states[pid] = replace(
                    state, co_members={**state.co_members, household: others}
                )

    async def _spare_rechecks(self, work: _Work, loaded: Loaded, changes: Changes) -> None:
        """No re-check for a household member in another partition who waits for the roster
        snapshot that this batch's people waited for: their own partition evaluates them once
        it is whole, after every save it needs, unless someone in their household changes in
        this batch (saved after that, maybe). A roster snapshot of a city would otherwise send
        a re-check pair for most co-members in another partition."""
        if not work.elsewhere or not work.waited:
            return
        fresh = changes.facts.keys() | changes.roster.keys()
        asked: dict[tuple[str, int], list[str]] = {}
        for pid in work.elsewhere:
            household = {m.person_id for ms in loaded.states[pid].co_members.values() for m in ms}
            if household.isdisjoint(fresh):
                partition = outbox_partition(pid, self._partitions)
                for snapshot in set(work.waited.values()):
                    for trigger in WAITING_ORDER:
                        key = (waiting_delivery(snapshot, trigger), partition)
                        asked.setdefault(key, []).append(pid)
        for pid in await self._store.in_pending(asked):
            del work.elsewhere[pid]

    async def _defer_mid_delivery(
        self,
        work: _Work,
        loaded: Loaded,
        changes: Changes,
        ending: Sequence[tuple[str, int]],
    ) -> None:
        """A delivery is judged whole, at its end marker: whoever has facts of one that has not
        ended yet in their partition (some of the file read, not all), or a household member
        who has, is not evaluated now, whatever brought them in (a household change, a
        re-check, the scan). That end marker evaluates them and re-evaluates their households
        (rule 13), here or, for another worker's people, by a re-check."""
        if not work.triggers:
            return
        household = {
            pid: {m.person_id for others in loaded.states[pid].co_members.values() for m in others}
            for pid in work.triggers
        }
        everyone = set(work.triggers).union(*household.values())
        by_partition: dict[int, set[str]] = {}
        for pid in everyone:
            by_partition.setdefault(outbox_partition(pid, self._partitions), set()).add(pid)
        waiting = await self._store.mid_delivery(by_partition, ending)
        for key, people in changes.pending.items():  # this batch's, not saved yet
            if key not in ending:
                waiting |= people & everyone
        deferred = [
            p for p in work.triggers if p in waiting or not household[p].isdisjoint(waiting)
        ]
        for pid in deferred:
            del work.triggers[pid]
        if deferred:
            log.debug("%d people wait for a delivery's end marker", len(deferred))

    @staticmethod
    def _join_households(
        people: list[str], loaded: Loaded, members: dict[str, set[str]], changes: Changes
    ) -> None:
        """Record new memberships that roster changes brought (the index only grows)."""
        for pid in people:
            for e in loaded.states[pid].enrollments:
                if e.household_id and pid not in members[e.household_id]:
                    members[e.household_id].add(pid)
                    changes.households.setdefault(e.household_id, set()).add(pid)

    async def _evaluate(
        self, work: _Work, loaded: Loaded, changes: Changes, now: dt.datetime
    ) -> list[Alert]:
        if not work.triggers:
            return []
        policy = self._settings.policy
        delivered = await self._store.feed_deliveries()
        contexts: dict[dt.date, Context] = {}
        changed_alerts: list[Alert] = []
        skipped: Counter[tuple[str, str]] = Counter()
        failed: list[DeadLetter] = []
        for pid, trigger in work.triggers.items():
            state = loaded.states[pid]
            today = work.as_of.get(pid) or self._settings.today()
            if today not in contexts:
                stale = stale_sources(self._settings.feeds, delivered, today)
                contexts[today] = Context(policy, today, stale)
            ctx = contexts[today]
            existing = loaded.alerts.get(pid, {})
            try:  # the rules are pure: what raises here is this person's state, every time
                findings = [*evaluate(state, ctx), *overdue(existing.values(), ctx.today)]
                alerts = reconcile(
                    findings, existing, state.revoked, now=now, trigger=trigger, policy=policy,
                    as_of=today, refuted=refutations(existing.values(), state, ctx),
                )  # fmt: skip
            except Exception as exc:  # their facts are saved; their alerts wait for a recheck
                failed.append(self._evaluation_failed(pid, trigger, work.as_of.get(pid), exc, now))
                continue
            if trigger == "scan":
                skipped.update((f.type, f.withheld) for f in findings if f.withheld)
            if alerts:
                changes.alerts[pid] = alerts
                changed_alerts.extend(alerts)
        for (rule, why), people in sorted(skipped.items()):
            self._metrics.scan_skipped.labels(rule).inc(people)
            log.info("scan: %s held back for %d people: %s", rule, people, why)
        if failed and self._deadletters is not None:  # before the save: never lost
            await self._deadletters.send(failed)
            for letter in failed:
                self._metrics.dead_letters.labels(letter.topic, letter.kind).inc()
        return changed_alerts

    def _evaluation_failed(
        self, pid: str, trigger: Trigger, as_of: dt.date | None, exc: Exception, now: dt.datetime
    ) -> DeadLetter:
        """Log and count it, and make the recheck that `deadletter replay` sends once the cause
        is fixed (a rule corrected, a bad record revoked)."""
        error = describe_error(exc)
        self._metrics.evaluation_failures.labels(type(exc).__name__).inc()
        log.error("evaluating %s failed, their facts are saved: %s", mask_id(pid), error)
        recheck = Recheck(pid, "scan" if trigger == "scan" else "enrollment", as_of)
        return DeadLetter(
            topic=names.RECHECK,
            key=pid.encode(),
            value=recheck.as_json(),
            headers=(),
            partition=None,  # replayed by key: the partition the person's messages are in
            offset=None,
            kind="evaluation",
            error=error,
            at=now,
        )

    def _count(
        self, decoded: Sequence[Decoded], alerts: Sequence[Alert], rejected: Sequence[Rejected]
    ) -> None:
        per_feed: Counter[str] = Counter()
        latest: dict[str, dt.datetime] = {}
        for item in decoded:  # one metric update per feed, not per fact
            if isinstance(item, Fact):
                per_feed[item.feed] += 1
                if item.feed not in latest or latest[item.feed] < item.received_at:
                    latest[item.feed] = item.received_at
        for feed, count in per_feed.items():
            self._metrics.facts_processed.labels(feed).inc(count)
            self._metrics.last_record.labels(feed).set(latest[feed].timestamp())
        for alert in alerts:
            if alert.version == 1:
                self._metrics.alerts.labels(alert.type, alert.severity).inc()
                self._metrics.detection_latency.observe(
                    max(0.0, (alert.detected_at - alert.ingested_at).total_seconds())
                )
            else:
                self._metrics.alert_changes.labels(alert.history[-1].action).inc()
        for reject in rejected:
            self._metrics.worker_rejected.labels(reject.topic).inc()


def _end_trigger(end: DeliveryEnd) -> Trigger:
    """Why the people of a delivery are evaluated at its end marker."""
    if end.feed == SNAPSHOT_FEED:
        return "enrollment"
    return "payment" if end.payment else "event"


def _ended_sets(ends: Sequence[DeliveryEnd]) -> dict[tuple[str, int], tuple[Trigger, bool]]:
    """The pending sets that end markers end: the trigger their people are evaluated as, and
    whether they waited for a roster snapshot that is whole now (they do not wait for it
    again). The sets that wait for a snapshot in a partition end together, at the marker that
    says it is whole: someone in two sets keeps the first trigger of
    streams.snapshots.WAITING_ORDER, so a department's record's, not the roster's."""
    sets: dict[tuple[str, int], tuple[Trigger, bool]] = {}
    for end in ends:
        if waits := waited_for(end.delivery):
            for trigger in WAITING_ORDER:
                sets[(waiting_delivery(waits[0], trigger), end.partition)] = (trigger, True)
        else:
            sets.setdefault((end.delivery, end.partition), (_end_trigger(end), False))
    return sets


def _join(state: PersonState, changes: Changes) -> None:
    """Record a person in the households their enrollments name, as the roster change that
    names them is applied: every member of a household is in its set before the snapshot
    that made them one is whole (streams.snapshots)."""
    for household in {e.household_id for e in state.enrollments if e.household_id}:
        changes.households.setdefault(household, set()).add(state.person_id)


def _enrolled_in(state: PersonState, household: str) -> bool:
    return any(e.household_id == household for e in state.enrollments)


def _pend(item: Decoded, partition: int, changes: Changes) -> bool:
    """Whether the message belongs to a delivery (a department's file, a roster snapshot),
    whose people are evaluated together at its end marker; if so, its person is put in the
    delivery's pending set of the message's partition."""
    if isinstance(item, Fact) and item.delivery:
        key, of = (item.delivery, partition), (item.feed, item.kind == "payment")
    elif isinstance(item, SnapshotEntry):
        key, of = (item.snapshot, partition), (SNAPSHOT_FEED, False)
    else:
        return False
    changes.pending.setdefault(key, set()).add(item.person_id)
    changes.pending_of[key] = of
    return True


def _not_yet_saved(
    decoded: Sequence[Decoded], read_from: Sequence[Message], loaded: Loaded, changes: Changes
) -> list[Decoded]:
    """The items whose person's saved state does not include them yet (a message read again,
    after a crash or a catch-up, that the person already has is left out: not even a roster
    change that a later one overrode comes back); each person's offsets then cover the rest."""
    fresh: list[Decoded] = []
    concerning: dict[str, list[tuple[str, int | None]]] = {}
    for item, message in zip(decoded, read_from, strict=True):
        if isinstance(item, DeliveryEnd):  # about no one person: ending twice changes nothing
            fresh.append(item)
            continue
        label = names.input_label(message.topic, message.partition)
        have = loaded.offsets.get(item.person_id, {})
        if covered(have, label, message.offset):
            changes.remark.add(item.person_id)
            # kept in its delivery's pending set: on Redis Cluster the master holding the set
            # may have come back without its last second while the person's kept the save (the
            # end marker, read again too if it had come, evaluates them again: no change)
            _pend(item, message.partition, changes)
            continue
        fresh.append(item)
        concerning.setdefault(item.person_id, []).append((label, message.offset))
    if skipped := len(decoded) - len(fresh):
        log.info("%d messages left out: their people's saved state has them", skipped)
    for pid, read in concerning.items():
        offsets = advanced(loaded.offsets.get(pid, {}), read)
        if offsets != loaded.offsets.get(pid, {}):
            changes.offsets[pid] = loaded.offsets[pid] = offsets
    return fresh


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


def audit_entries(alerts: Sequence[Alert], partitions: int) -> dict[str, list[Draft]]:
    """One audit entry per alert change, on the chain of the worker that owns the person:
    who (the person who acted, or the system), what, on which alert; codes only."""
    chains: dict[str, list[Draft]] = {}
    for alert in alerts:
        last = alert.history[-1]
        draft = Draft(
            actor=last.by,
            role=last.role or "system",
            token_id=last.token_id,
            action=last.action,
            target=alert.alert_id,
            detail={"type": alert.type, "status": alert.status, "version": alert.version,
                    "queue": alert.queue},
            at=last.at,
        )  # fmt: skip
        chains.setdefault(worker_chain(alert.person_id, partitions), []).append(draft)
    return chains
