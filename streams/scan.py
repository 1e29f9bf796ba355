"""The daily scan and the pre-approval check: the rules run on request, not on an event."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import redis
import redis.asyncio as aioredis

from connectors.ids import check_id
from streams import people
from streams.batch import Recheck
from streams.rules import Context, Finding, evaluate
from streams.state import PersonState
from streams.store import PersonStore
from welfare_watch import kafka, names, redis_client
from welfare_watch.errors import WelfareWatchError
from welfare_watch.models import Enrollment
from welfare_watch.settings import Settings

_CHUNK = 2000  # re-checks put on Kafka between two renewals of the scan's claim
_PLAIN_ID = re.compile(r"[0-9]{17}[0-9X]")  # an ID number's characters need no JSON escape
_TIMEOUT = 30.0  # seconds: a Redis that does not answer fails the turn; the next one retries

# Renew the claim (KEYS[1]) for ARGV[2] ms if this worker (ARGV[1]) still holds it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# Record the day (ARGV[2]) as scanned (KEYS[2]) if this worker (ARGV[1]) still holds the claim.
_FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
# Give the claim up (a scan that failed, or a worker that stops): the next turn may retry.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ScanClaimLost(WelfareWatchError):
    """The claim expired, or another worker holds it now: this one stops queuing."""


class ScanInterrupted(WelfareWatchError):
    """The worker is stopping: it stops queuing and gives the claim up for the next leader."""


class Producer(Protocol):
    """What `send_rechecks` needs of a producer (welfare_watch.kafka.Producer): flush()
    returns once the broker has every record sent before it, and raises when one failed."""

    def send(self, topic: str, value: bytes, key: bytes) -> Any: ...
    def flush(self) -> None: ...


def _client(settings: Settings) -> redis.Redis:
    return redis_client.connect(
        settings.env.redis_url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
    )


def scan_people(client: redis.Redis) -> set[str]:
    """Everyone on the roster or with an alert (now or before: re-evaluating someone with
    neither changes nothing)."""
    return set(people.everyone(client))


def request_scan(settings: Settings, as_of: dt.date | None = None) -> int:
    """Queue every person on the roster or with an alert for the time-based rules."""
    client = _client(settings)
    try:
        people = scan_people(client)
    finally:
        client.close()
    return queue_scan(settings, people, as_of or settings.today())


def queue_scan(
    settings: Settings,
    person_ids: Iterable[str],
    as_of: dt.date,
    before_each_chunk: Callable[[], None] = lambda: None,
) -> int:
    """One scan re-check per person on `ww.recheck`; returns once the broker has every one."""
    kafka.ensure_topics(
        settings.env.kafka_bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions
    )
    producer = kafka.producer(settings.env.kafka_bootstrap)
    try:
        rate = settings.policy.scan.queue_per_second
        return send_rechecks(producer, person_ids, as_of, before_each_chunk, rate)
    finally:
        producer.close()


def send_rechecks(
    producer: Producer,
    person_ids: Iterable[str],
    as_of: dt.date,
    before_each_chunk: Callable[[], None] = lambda: None,
    per_second: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send in chunks; after each, flush, which raises if the broker did not take one of them,
    so that a returned count means the broker has them all. `before_each_chunk` may raise to
    stop (the claim is gone). With `per_second`, each chunk waits until its share of time has
    passed since the first."""
    ids = sorted(person_ids)
    message = ScanMessage(as_of)
    started = time.monotonic()
    for start in range(0, len(ids), _CHUNK):
        if per_second and (ahead := start / per_second - (time.monotonic() - started)) > 0:
            sleep(ahead)
        before_each_chunk()
        for pid in ids[start : start + _CHUNK]:
            producer.send(names.RECHECK, message.of(pid), pid.encode())
        producer.flush()
    return len(ids)


class ScanMessage:
    """A scan re-check as Recheck(pid, "scan", as_of).as_json() writes it, made once and
    filled in with each person's number (which JSON writes as it is)."""

    _MARK = "000000000000000000"

    def __init__(self, as_of: dt.date) -> None:
        self._as_of = as_of
        before, found, after = (
            Recheck(self._MARK, "scan", as_of).as_json().partition(self._MARK.encode())
        )
        self._around = (before, after) if found and self._MARK.encode() not in after else None

    def of(self, pid: str) -> bytes:
        if self._around is None or _PLAIN_ID.fullmatch(pid) is None:
            return Recheck(pid, "scan", self._as_of).as_json()
        before, after = self._around
        return before + pid.encode() + after


def scan_due(last: dt.date | None, today: dt.date, now: dt.time, daily_at: dt.time) -> bool:
    """Today's scan is due once its time has come, and only if it has not run for today."""
    return (last is None or last < today) and now >= daily_at


@dataclass
class ScanClaim:
    """One worker's claim on one day's scan: `SET key owner NX EX seconds`, renewed before each
    chunk it queues. The day is recorded as scanned only by the worker that still holds it."""

    client: redis.Redis
    day: dt.date
    seconds: int
    owner: str = field(default_factory=lambda: _owner())

    @property
    def key(self) -> str:
        return names.scan_claim_key(self.day.isoformat())

    def take(self) -> bool:
        return bool(self.client.set(self.key, self.owner, nx=True, ex=self.seconds))

    def renew(self) -> None:
        if not self.client.eval(_RENEW, 1, self.key, self.owner, self.seconds * 1000):
            raise ScanClaimLost(
                f"the claim on the {self.day} scan expired or went to another worker"
            )

    def finish(self) -> None:
        if not self.client.eval(
            _FINISH, 2, self.key, names.LAST_SCAN, self.owner, self.day.isoformat()
        ):
            raise ScanClaimLost(
                f"the claim on the {self.day} scan expired before it was recorded; "
                "the worker holding it now records it"
            )

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.owner)


def _owner() -> str:
    """This worker, in the claim (host, process, attempt): for whoever looks at Redis."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _last_scan(client: redis.Redis) -> dt.date | None:
    raw = cast(bytes | None, client.get(names.LAST_SCAN))
    return dt.date.fromisoformat(raw.decode()) if raw else None


def run_daily_scan_if_due(
    settings: Settings, now: dt.datetime, stopping: Callable[[], bool] = lambda: False
) -> int | None:
    """The worker's timer: queue today's scan when it is due and no other worker is at it,
    and record the day once every re-check is on Kafka; else do nothing (None).

    A store with no enrollment at all is not scanned (and the day not recorded): the scan
    runs once a roster is there. A scan that fails or is stopped gives its claim up, so the
    next turn retries it; one whose worker died is retried once its claim has expired. Either
    way some people are queued twice that day, which changes nothing: re-evaluating the same
    state raises nothing new."""
    client = _client(settings)
    try:
        today = settings.today()
        if not scan_due(_last_scan(client), today, now.time(), settings.policy.scan.time):
            return None
        if next(people.roster_people(client), None) is None:  # nobody enrolled: not done
            return None
        claim = ScanClaim(client, today, settings.policy.scan.claim_seconds)
        if not claim.take():
            return None  # another worker is queuing it (or died at it: its claim expires)
        last = _last_scan(client)
        if last is not None and last >= today:  # done by another just before the claim
            claim.release()
            return None
        return _queue_claimed(settings, client, claim, today, stopping)
    finally:
        client.close()


def _queue_claimed(
    settings: Settings,
    client: redis.Redis,
    claim: ScanClaim,
    today: dt.date,
    stopping: Callable[[], bool],
) -> int:
    def before_each_chunk() -> None:
        if stopping():
            raise ScanInterrupted("the worker is stopping; the next leader scans instead")
        claim.renew()

    try:
        queued = queue_scan(settings, scan_people(client), today, before_each_chunk)
        claim.finish()
    except ScanClaimLost:
        raise
    except BaseException:
        with suppress(redis.RedisError):
            claim.release()
        raise
    return queued


@dataclass(frozen=True)
class CheckResult:
    person_id: str
    findings: list[Finding]


def _applicant(person_id: str, program: str, settings: Settings, today: dt.date) -> Enrollment:
    district = settings.policy.city.district_of(person_id[:6])
    household = settings.policy.programs[program].kind == "household"
    return Enrollment(
        person_id=person_id,
        name="",
        program=program,
        household_id="(applicant)" if household else "",
        role="head" if household else "individual",
        district_code=district,
        start_date=today,
        status="active",
    )


def precheck(settings: Settings, program: str, raw_ids: Sequence[str]) -> list[CheckResult]:
    """Every finding that would alert if these people were enrolled in `program` today.

    Nothing is written: no alert, no roster change. A household applicant is judged alone
    (the household does not exist yet).
    """
    return asyncio.run(_precheck_with_own_client(settings, program, raw_ids))


async def precheck_async(
    settings: Settings, program: str, raw_ids: Sequence[str], client: aioredis.Redis
) -> list[CheckResult]:
    """`precheck` on a client the caller holds (the web app's `POST /api/checks`)."""
    ids = [check_id(raw) for raw in raw_ids]
    if program not in settings.policy.programs:
        known = ", ".join(sorted(settings.policy.programs))
        raise WelfareWatchError(f"unknown program {program!r}; configured programs: {known}")
    states = (await PersonStore(client).load(ids)).states
    return judge_applicants(settings, program, ids, states)


def judge_applicants(
    settings: Settings, program: str, ids: Sequence[str], states: dict[str, PersonState]
) -> list[CheckResult]:
    """The same pure rules the worker runs, on each applicant as if enrolled today."""
    today = settings.today()
    ctx = Context(settings.policy, today)
    results = []
    for pid in ids:
        state = states[pid]
        applying = PersonState(
            pid,
            (*state.enrollments, _applicant(pid, program, settings, today)),
            state.facts,
            payments=state.payments,
        )
        findings = [
            f for f in evaluate(applying, ctx) if f.suppressed_by is None and f.withheld is None
        ]
        results.append(CheckResult(pid, findings))
    return results


async def _precheck_with_own_client(
    settings: Settings, program: str, raw_ids: Sequence[str]
) -> list[CheckResult]:
    client = redis_client.connect_async(settings.env.redis_url)
    try:
        return await precheck_async(settings, program, raw_ids, client)
    finally:
        await client.aclose()
