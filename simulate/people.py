"""Synthetic people: valid ID numbers (GB 11643), Chinese names, birth dates, calendar sums."""

from __future__ import annotations

import datetime as dt
import random
from array import array
from dataclasses import dataclass

from stdnum.cn import ric

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
MALE_CHARS = (
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林建国德福立志文海成东春永庆宏振"
)
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英兰梅红燕萍雪琳婷慧莹晶颖倩洁琴云凤珍淑玉欣雨晓"
# The oldest birth date a number may carry, counted back from the simulated day.
MAX_AGE_YEARS = 110
_SEQUENCES_PER_SEX = 499  # sequence numbers 001-998: odd for men, even for women


@dataclass(frozen=True, slots=True)
class Person:
    pid: str
    name: str
    birth: dt.date


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later (or earlier); 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(month: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after the month of `month`."""
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def birthday(birth: dt.date, years: int) -> dt.date:
    """The day a person born on `birth` turns `years` old."""
    return add_years(birth, years)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def born_to_turn(years: int, on: dt.date) -> dt.date:
    """A birth date whose `years`th birthday is `on` (a 29 February target moves to 1 March)."""
    if (on.month, on.day) == (2, 29):
        on += dt.timedelta(days=1)
    return on.replace(year=on.year - years)


class IdAllocator:
    """Hands out distinct valid numbers: a per (district, birth date, sex) sequence counter.

    The counters live in one flat array (two bytes each), so a million people cost a few
    megabytes and no set of issued numbers is kept.
    """

    def __init__(self, districts: list[str], as_of: dt.date) -> None:
        self._districts = districts
        self._first = add_years(as_of, -MAX_AGE_YEARS).toordinal()
        days = as_of.toordinal() - self._first + 1
        self._used = array("H", bytes(2 * days * len(districts) * 2))

    def allocate(self, district: str, birth: dt.date, male: bool) -> str | None:
        """A fresh number, or None when that district and birth date are used up."""
        index = self._districts.index(district)
        slot = ((birth.toordinal() - self._first) * len(self._districts) + index) * 2 + (not male)
        count = self._used[slot]
        if count >= _SEQUENCES_PER_SEX:
            return None
        self._used[slot] = count + 1
        sequence = 2 * count + (1 if male else 2)
        body = f"{district}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
        return body + ric.calc_check_digit(body + "0")  # it wants a placeholder check character


def make_name(rng: random.Random, male: bool) -> str:
    chars = MALE_CHARS if male else FEMALE_CHARS
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def is_male(person_id: str) -> bool:
    return int(person_id[16]) % 2 == 1


def random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day in [first, last], never 29 February (whose birthdays are a matter of opinion)."""
    day = dt.date.fromordinal(rng.randint(first.toordinal(), max(first, last).toordinal()))
    if (day.month, day.day) == (2, 29):
        day += dt.timedelta(days=1 if day < last else -1)
    return day


def birth_aged(rng: random.Random, as_of: dt.date, youngest: int, oldest: int) -> dt.date:
    """A birth date of someone aged between `youngest` and `oldest` years on `as_of`."""
    first = add_years(as_of, -(oldest + 1)) + dt.timedelta(days=1)
    last = add_years(as_of, -youngest)
    return random_day(rng, first, last)
