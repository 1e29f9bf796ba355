"""The simulation's shared state: one random source, the open files, the day, the roster rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulate.people import IdAllocator, Person, add_months, make_name
from simulate.writer import ROSTER, CityWriter
from welfare_watch.settings import Policy

# Region codes outside the default city, nearest first: 2112 and 2102 share its leading digits.
OUT_OF_CITY = ("211202", "210202", "110105", "310115", "220102", "440305", "120101", "130102")
COMMUNITIES = (
    "华山", "太原街", "五里河", "兴华", "东站", "奥园新城", "长江街", "北陵", "滑翔", "新华",
    "南湖", "砂山", "万泉", "泉园", "黎明", "保工", "北塔", "辽河", "塔湾", "文萃",
)  # fmt: skip
PAID_MONTHS = 3  # months of payment history before the simulated month
PAID_DAY = 10  # disbursements are made on the 10th


@dataclass(frozen=True, slots=True)
class Office:
    """Who manages a case: district, community and caseworker."""

    district: str
    community: str
    caseworker: str


@dataclass(frozen=True, slots=True)
class Enr:
    """One roster row as written."""

    person: Person
    program: str
    household_id: str
    role: str
    district: str
    amount: Decimal
    start: dt.date
    status: str

    @property
    def active(self) -> bool:
        return self.status == "active"


class Sim:
    """Everything a generator needs; every random choice comes from `rng`."""

    def __init__(
        self,
        rng: random.Random,
        out: CityWriter,
        policy: Policy,
        as_of: dt.date,
        people: int,
        payment_months: int = PAID_MONTHS,
    ) -> None:
        self.rng = rng
        self.out = out
        self.policy = policy
        self.as_of = as_of
        self.districts = sorted(policy.city.districts)
        self.ids = IdAllocator(self.districts, as_of)
        self.this_month = as_of.replace(day=1)
        self.paid_months = tuple(add_months(self.this_month, -n) for n in range(PAID_MONTHS, 0, -1))
        # Older months paid to the background as usual (a benchmark's longer history): the
        # planted cases reason about `paid_months` alone, and their people are paid in these
        # months only by `pay_normally`, which reports every month it paid.
        self.history_months = tuple(
            add_months(self.this_month, -n) for n in range(payment_months, PAID_MONTHS, -1)
        )
        self.out_of_city = tuple(c for c in OUT_OF_CITY if not policy.city.in_city(c))
        self.people = 0  # enrolled people
        self.outsiders = 0  # people who appear only in department records
        self.households = 0
        self.enrollments = 0
        self._serials: Counter[str] = Counter()
        self._caseworkers = max(2, min(60, people // 5000))

    # --- people, places and dates -------------------------------------------------------------

    def person(
        self, birth: dt.date, district: str | None = None, *, enrolled: bool = True
    ) -> Person:
        """A new person born on `birth` whose number was issued in `district` (or anywhere)."""
        male = self.rng.random() < 0.5
        district = district or self.district()
        pid = self.ids.allocate(district, birth, male)
        while pid is None:  # a thousand people share that birthday there: issue elsewhere
            pid = self.ids.allocate(self.district(), birth, male)
        if enrolled:
            self.people += 1
        else:
            self.outsiders += 1
        return Person(pid, make_name(self.rng, male), birth)

    def district(self, other_than: str = "") -> str:
        while True:
            district = self.rng.choice(self.districts)
            if district != other_than:
                return district

    def home(self, district: str) -> str:
        """Where a person's number was issued: mostly where the case is managed."""
        return district if self.rng.random() < 0.8 else self.district()

    def office(self, district: str) -> Office:
        community = self.rng.choice(COMMUNITIES) + "社区"
        caseworker = f"cw-{district}-{self.rng.randint(1, self._caseworkers):02d}"
        return Office(district, community, caseworker)

    def serial(self, kind: str) -> int:
        self._serials[kind] += 1
        return self._serials[kind]

    def between(self, first: dt.date, last: dt.date) -> dt.date:
        return dt.date.fromordinal(
            self.rng.randint(first.toordinal(), max(first, last).toordinal())
        )

    def day_in(self, month: dt.date) -> dt.date:
        """A day well inside a month (the 3rd to the 20th), away from every month boundary."""
        return month.replace(day=self.rng.randint(3, 20))

    def days_ago(self, days: int) -> dt.date:
        return self.as_of - dt.timedelta(days=days)

    def date(self, day: dt.date) -> str:
        """A date as departments write it: mostly YYYY-MM-DD, sometimes YYYY/MM/DD or YYYYMMDD."""
        draw = self.rng.random()
        if draw < 0.9:
            return day.isoformat()
        if draw < 0.95:
            return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"

    def time(self, day: dt.date) -> str:
        """`YYYY-MM-DD HH:MM` in office hours."""
        return f"{day.isoformat()} {self.rng.randint(8, 17):02d}:{self.rng.randint(0, 59):02d}"

    def name_in(self, person: Person) -> str:
        """The name as a department typed it: now and then with a space after the surname."""
        if self.rng.random() < 0.02:
            return f"{person.name[0]} {person.name[1:]}"
        return person.name

    # --- the roster ---------------------------------------------------------------------------

    def household_id(self, district: str) -> str:
        self.households += 1
        return f"HH-{district}-{self.serial('household-' + district):06d}"

    def enroll(
        self,
        person: Person,
        program: str,
        office: Office,
        *,
        amount: Decimal,
        start: dt.date,
        status: str = "active",
        household_id: str = "",
        role: str = "individual",
    ) -> Enr:
        self.out.row(
            ROSTER,
            (
                person.pid, person.name, program, household_id, role, office.district,
                office.community, office.caseworker, f"{amount:.2f}", start.isoformat(), status,
            ),
        )  # fmt: skip
        self.enrollments += 1
        return Enr(person, program, household_id, role, office.district, amount, start, status)

    # --- payments and survival checks ---------------------------------------------------------

    def pay(self, enr: Enr, month: dt.date, amount: Decimal | None = None, text: str = "") -> None:
        """One disbursement for `month`; `text` writes the amount exactly so."""
        amount = enr.amount if amount is None else amount
        batch = f"FF-{month.year:04d}{month.month:02d}-{enr.district[-2:]}"
        paid = self.date(month.replace(day=PAID_DAY))
        self.out.row(
            "payments",
            (
                enr.person.pid, self.name_in(enr.person), enr.program,
                f"{month.year:04d}-{month.month:02d}", text or f"{amount:.2f}", paid, batch,
            ),
        )  # fmt: skip

    def pay_normally(self, enr: Enr, through: dt.date | None = None) -> list[dt.date]:
        """The recent months' payments of an active head or individual, at exactly its amount
        (and the older months' of a longer history)."""
        if not enr.active or enr.role == "member":
            return []
        first = enr.start.replace(day=1)
        paid = (*self.history_months, *self.paid_months)
        months = [m for m in paid if m >= first and (through is None or m <= through)]
        for month in months:
            self.pay(enr, month)
        return months

    def check(self, person: Person, day: dt.date) -> None:
        method = "人脸" if self.rng.random() < 0.85 else "上门"
        self.out.row("survival_checks", (person.pid, self.time(day), method))

    def check_normally(self, enr: Enr) -> None:
        """A recent survival check for an active enrollment in a program that requires them."""
        if not (enr.active and self.policy.programs[enr.program].survival_checks):
            return
        if self.rng.random() < 0.3:
            self.check(enr.person, self.days_ago(self.rng.randint(120, 400)))
        self.check(enr.person, self.days_ago(self.rng.randint(3, 60)))

    # --- expected alerts ----------------------------------------------------------------------

    def expect(self, type_: str, person: Person, program: str | None, **extra: Any) -> None:
        alert: dict[str, Any] = {"type": type_, "person_id": person.pid}
        if program is not None:
            alert["program"] = program
        self.out.expect(alert | extra)
