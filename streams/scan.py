"""The daily scan and the pre-approval check: the rules run on request, not on an event."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis
import redis.asyncio as aioredis

from connectors.ids import check_id
from streams.roster import request_recheck
from streams.rules import Context, Finding, evaluate
from streams.state import PersonState
from streams.store import PersonStore
from welfare_watch import names
from welfare_watch.errors import WelfareWatchError
from welfare_watch.models import Enrollment
from welfare_watch.settings import Settings


def request_scan(settings: Settings, as_of: dt.date | None = None) -> int:
    """Queue every person on the roster or with an alert for the time-based rules."""
    client = redis.Redis.from_url(settings.env.redis_url)
    people = {
        key.decode()
        for hash_key in (names.ROSTER, names.ALERTS_BY_PERSON)
        for key in cast(list[bytes], client.hkeys(hash_key))
    }
    return request_recheck(settings, people, trigger="scan", as_of=as_of or settings.today())


def scan_due(last: dt.date | None, today: dt.date, now: dt.time, daily_at: dt.time) -> bool:
    """Today's scan is due once its time has come, and only if it has not run for today."""
    return (last is None or last < today) and now >= daily_at


def run_daily_scan_if_due(settings: Settings, now: dt.datetime) -> int | None:
    """The worker's timer: queue the scan when due and record the day, else do nothing.

    A store with no enrollment at all is not scanned (and the day not recorded): the scan
    runs once a roster is there."""
    client = redis.Redis.from_url(settings.env.redis_url)
    raw = cast(bytes | None, client.get(names.LAST_SCAN))
    last = dt.date.fromisoformat(raw.decode()) if raw else None
    today = settings.today()
    if not scan_due(last, today, now.time(), settings.policy.scan.time):
        return None
    if not client.exists(names.ROSTER):  # nobody enrolled yet: nothing to judge, not done
        return None
    queued = request_scan(settings, today)
    client.set(names.LAST_SCAN, today.isoformat())
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
            pid, (*state.enrollments, _applicant(pid, program, settings, today)), state.facts
        )
        findings = [
            f for f in evaluate(applying, ctx) if f.suppressed_by is None and f.withheld is None
        ]
        results.append(CheckResult(pid, findings))
    return results


async def _precheck_with_own_client(
    settings: Settings, program: str, raw_ids: Sequence[str]
) -> list[CheckResult]:
    client = aioredis.from_url(settings.env.redis_url)
    try:
        return await precheck_async(settings, program, raw_ids, client)
    finally:
        await client.aclose()
