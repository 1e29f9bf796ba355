"""The latency phase's department records: deaths that must each raise one alert, mixed with
survival checks that must raise none, for people of the benchmark's city."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bench.city import Enrolled

DEATHS = "psb_deaths"
CHECKS = "survival_checks"
ALERT_TYPE = "DECEASED_BENEFICIARY"  # what each planted death raises, and nothing else


@dataclass(frozen=True)
class Event:
    """One record as its department writes it (column name -> value)."""

    feed: str
    row: dict[str, str]
    planted: str | None  # the person whose one alert it must raise; None: it raises none


def split_people(
    people: Sequence[Enrolled], events: int, alert_share: float, seed: int
) -> tuple[list[Enrolled], list[Enrolled]]:
    """Who dies (one per planted event, at most half of those eligible) and who is checked."""
    shuffled = list(people)
    random.Random(seed).shuffle(shuffled)
    dying = min(round(events * alert_share), len(shuffled) // 2)
    return shuffled[:dying], shuffled[dying:]


def alternate(people: Sequence[Enrolled]) -> tuple[list[Enrolled], list[Enrolled]]:
    """Two disjoint halves, one for each way in."""
    return list(people[0::2]), list(people[1::2])


class Mix:
    """Events for one way in: every `period`-th is a death while planted people remain, the
    others survival checks going round the silent people. Record ids carry `tag`, so a second
    run on a kept stack sends new records, not repeats that the worker would leave out."""

    def __init__(
        self,
        dying: Sequence[Enrolled],
        checked: Sequence[Enrolled],
        alert_share: float,
        as_of: dt.date,
        tag: str,
    ) -> None:
        if not checked:
            raise ValueError("no one to send survival checks for")
        self._dying = iter(dying)
        self._checked = checked
        self.period = max(1, round(1 / alert_share)) if alert_share > 0 else 0
        self._as_of = as_of
        self._tag = tag
        self._index = 0

    def is_death(self, index: int) -> bool:
        return self.period > 0 and index % self.period == 0

    def next(self, death: bool) -> Event:
        """The next event: a death if asked and someone is left to die, else a check."""
        self._index += 1
        person = next(self._dying, None) if death else None
        if person is not None:
            return death_record(person, self._as_of, f"{self._tag}{self._index:09d}")
        someone = self._checked[self._index % len(self._checked)]
        return check_record(someone, self._as_of, self._index)

    def events(self) -> Iterator[Event]:
        index = 0
        while True:
            yield self.next(self.is_death(index))
            index += 1


def death_record(person: Enrolled, as_of: dt.date, serial: str) -> Event:
    """A psb death record: died three days before `as_of` (in its month, after every
    payment's month: no posthumous payment), registration cancelled the day before."""
    row = {
        "公民身份号码": person.person_id,
        "姓名": person.name,
        "死亡日期": (as_of - dt.timedelta(days=3)).isoformat(),
        "注销日期": (as_of - dt.timedelta(days=1)).isoformat(),
        "业务流水号": serial,
        "状态": "正常",
    }
    return Event(DEATHS, row, person.person_id)


def check_record(person: Enrolled, as_of: dt.date, index: int) -> Event:
    """A face check within the last 60 days, its time varied so that records differ."""
    day = as_of - dt.timedelta(days=index % 60)
    minute = (index // 60) % (10 * 60)
    row = {
        "身份证号": person.person_id,
        "认证时间": f"{day.isoformat()} {8 + minute // 60:02d}:{minute % 60:02d}",
        "认证方式": "人脸",
    }
    return Event(CHECKS, row, None)
