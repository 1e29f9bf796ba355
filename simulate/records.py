"""Department records about one person, each in its feed's own columns, words and date forms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from simulate.core import Sim
from simulate.people import Person, add_years, make_name

DEATH_FEEDS = ("psb_deaths", "health_deaths", "cremations")
HOSPITALS = ("沈阳市第四人民医院", "中国医科大学附属第一医院", "沈阳市第一人民医院", "乡镇卫生院")
FUNERAL_HOMES = ("沈阳市殡仪馆", "沈阳市回龙岗殡仪馆", "新民市殡仪馆")
PRISONS = ("辽宁省沈阳监狱", "辽宁省大北监狱", "辽宁省东陵监狱", "辽宁省女子监狱")
EMPLOYERS = (
    "沈阳某物业服务有限公司",
    "沈阳某保洁服务有限公司",
    "沈阳某餐饮管理有限公司",
    "沈阳某商贸有限公司",
)
TRADES = ("商贸", "科技", "建材", "餐饮", "物流", "装饰")
RELATIONS = ("父子", "母子", "兄弟", "姐妹", "配偶", "子女", "父女", "母女")
_PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_AREAS = {"住宅": (40, 120), "车位": (12, 16)}


def _code(number: int, length: int) -> str:
    """A number spelled in plate characters: a bijection, so distinct numbers never collide."""
    base = len(_PLATE_CHARS)
    number = (number * 7919 + 104729) % base**length  # 7919 is coprime with 34**n
    chars = []
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(_PLATE_CHARS[digit])
    return "".join(chars)


def psb_death(
    sim: Sim, person: Person, died: dt.date, *, status: str = "正常", serial: str = ""
) -> str:
    """A household-registration cancellation (or, with 撤销, its revocation); its 业务流水号."""
    serial = serial or f"GA{died:%Y%m%d}{sim.serial('ga'):07d}"
    cancelled = min(sim.as_of, died + dt.timedelta(days=sim.rng.randint(3, 25)))
    sim.out.row(
        "psb_deaths",
        (person.pid, sim.name_in(person), sim.date(died), sim.date(cancelled), serial, status),
    )
    return serial


def health_death(sim: Sim, person: Person, died: dt.date) -> None:
    certificate = f"Y{person.pid[:6]}{died:%Y%m%d}{sim.serial('health'):06d}"
    row = (person.pid, sim.name_in(person), sim.time(died), sim.rng.choice(HOSPITALS), certificate)
    sim.out.row("health_deaths", row)


def cremation(sim: Sim, person: Person, died: dt.date) -> None:
    """Cremated two to four days after the death (never in a later month than given here)."""
    cremated = died + dt.timedelta(days=sim.rng.randint(2, 4))
    home = sim.rng.choice(FUNERAL_HOMES)
    number = f"HH-{cremated.year}-{sim.serial('cremation'):06d}"
    sim.out.row("cremations", (person.pid, sim.name_in(person), sim.date(cremated), home, number))


def death(sim: Sim, person: Person, died: dt.date, feeds: Iterable[str]) -> None:
    """The death as each named feed reports it."""
    for feed in feeds:
        if feed == "psb_deaths":
            psb_death(sim, person, died)
        elif feed == "health_deaths":
            health_death(sim, person, died)
        else:
            cremation(sim, person, died)


def move(
    sim: Sim,
    person: Person,
    origin: str,
    destination: str,
    when: dt.date,
    sides: Iterable[str] = ("迁出",),
) -> None:
    """One household-registration move, as reported by the station on each side named."""
    for side in sides:
        serial = f"GA{when:%Y%m%d}{sim.serial('ga'):07d}"
        row = (person.pid, sim.name_in(person), side, origin, destination, sim.date(when), serial)
        sim.out.row("hukou_moves", row)


def prison(
    sim: Sim, person: Person, event: str, when: dt.date, ends: dt.date | str | None = None
) -> None:
    """An admission (入监) or a release (出监); `ends` is the sentence end, a date or words."""
    if ends is None and event == "入监":
        ends = add_years(when, sim.rng.randint(2, 8))
    end_text = sim.date(ends) if isinstance(ends, dt.date) else (ends or "")
    number = f"SJ-{when.year}-{sim.serial('prison'):06d}"
    jail = sim.rng.choice(PRISONS)
    sim.out.row(
        "prison", (person.pid, sim.name_in(person), event, sim.date(when), jail, end_text, number)
    )


def vehicle(
    sim: Sim, person: Person, kind: str, when: dt.date, status: str = "注册", plate: str = ""
) -> str:
    """A registration (注册) or deregistration (注销) of a plate; the plate."""
    plate = plate or f"辽A·{_code(sim.serial('plate'), 5)}"
    sim.out.row("vehicles", (person.pid, sim.name_in(person), plate, kind, sim.date(when), status))
    return plate


def unit(
    sim: Sim, person: Person, use: str, when: dt.date, status: str = "登记", unit_id: str = ""
) -> str:
    """A real-estate unit registered (登记) to or cancelled (注销) from the person; its number."""
    number = sim.serial("unit")
    unit_id = unit_id or f"{person.pid[:6]}{number:06d}GB{number % 99991:05d}F{number * 13:08d}"
    low, high = _AREAS.get(use, (20, 300))
    area = f"{sim.rng.randint(low, high)}.{sim.rng.randint(0, 99):02d}"
    row = (person.pid, sim.name_in(person), unit_id, use, area, sim.date(when), status)
    sim.out.row("real_estate", row)
    return unit_id


def company(sim: Sim, person: Person, role: str, status: str, when: dt.date) -> None:
    """A company role: 法定代表人 or 股东 of a company that is 存续, 注销 or 吊销."""
    district = person.pid[:6]
    code = f"91{district}MA{_code(sim.serial('company'), 8)}"
    place = sim.policy.city.districts.get(district, "")
    city = sim.policy.city.name.removesuffix("市")
    name = f"{city}{place}{person.name}{sim.rng.choice(TRADES)}有限公司"
    row = (person.pid, sim.name_in(person), code, name, role, status, sim.date(when))
    sim.out.row("enterprises", row)


def income(sim: Sim, person: Person, month: dt.date, amount: Decimal) -> None:
    period = f"{month.year:04d}-{month.month:02d}"
    employer = sim.rng.choice(EMPLOYERS)
    sim.out.row("income", (person.pid, sim.name_in(person), period, employer, f"{amount:.2f}"))


def relative(sim: Sim, person: Person, staff_region: str) -> None:
    """A civil-affairs staff member of `staff_region` declares the person a close relative."""
    staff_id = f"MZ-{staff_region}-{sim.serial('staff'):05d}"
    staff_name = make_name(sim.rng, sim.rng.random() < 0.5)
    relation = sim.rng.choice(RELATIONS)
    row = (staff_id, staff_name, staff_region, person.pid, sim.name_in(person), relation)
    sim.out.row("staff_relatives", row)
