"""Derived facts about a person that several rules share: death, prison, residence, holdings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from streams.rules.finding import Confidence
from streams.state import PersonState
from welfare_watch.models import Fact


@dataclass(frozen=True)
class Death:
    records: tuple[Fact, ...]
    confidence: Confidence
    date: dt.date | None  # earliest reported; a cremation date only bounds it


def death_of(state: PersonState) -> Death | None:
    """The person's death, if any standing record reports one."""
    records = tuple(state.standing("death"))
    if not records:
        return None
    authoritative = any(f.attrs.get("authoritative") == "true" for f in records)
    feeds = {f.feed for f in records}
    confirmed = authoritative or len(feeds) >= 2
    dates = [f.event_date for f in records if f.event_date is not None]
    return Death(records, "confirmed" if confirmed else "unverified", min(dates, default=None))


def _prison_order(fact: Fact) -> tuple[dt.date, int, dt.datetime]:
    # On the same day a release follows an admission.
    released = 1 if fact.attrs.get("event") == "released" else 0
    return (fact.event_date or dt.date.min, released, fact.received_at)


def imprisonment(state: PersonState) -> Fact | None:
    """The admission, when the person's latest prison record is one."""
    records = sorted(state.standing("prison"), key=_prison_order)
    if records and records[-1].attrs.get("event") == "admitted":
        return records[-1]
    return None


@dataclass(frozen=True)
class Spell:
    """One stay in prison: admitted on `start`, released on `end` (None: not yet)."""

    admission: Fact
    start: dt.date
    end: dt.date | None
    release: Fact | None


def prison_spells(state: PersonState) -> list[Spell]:
    spells: list[Spell] = []
    open_admission: Fact | None = None
    for record in sorted(state.standing("prison"), key=_prison_order):
        if record.attrs.get("event") == "admitted":
            open_admission = open_admission or record
        elif open_admission is not None and record.event_date is not None:
            start = open_admission.event_date or dt.date.min
            spells.append(Spell(open_admission, start, record.event_date, record))
            open_admission = None
    if open_admission is not None:
        spells.append(Spell(open_admission, open_admission.event_date or dt.date.min, None, None))
    return spells


def latest_move(state: PersonState) -> Fact | None:
    """The latest household-registration move, whichever side reported it."""
    moves = state.standing("move")
    return moves[-1] if moves else None


def latest_per(records: Iterable[Fact], key: Callable[[Fact], str]) -> dict[str, Fact]:
    """The latest record for each thing (a plate, a unit, a company), records oldest first."""
    latest: dict[str, Fact] = {}
    for record in records:
        latest[key(record)] = record
    return latest


def latest_income(state: PersonState) -> Fact | None:
    """The income record of the latest month on record."""
    records = state.standing("income")
    return records[-1] if records else None
