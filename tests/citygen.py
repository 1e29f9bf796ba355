"""Valid ID numbers and small roster/feed files for integration tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from stdnum.cn import ric

ROSTER_HEADER = [
    "person_id", "name", "program", "household_id", "role", "district_code", "community",
    "caseworker_id", "monthly_amount", "start_date", "status",
]  # fmt: skip


def person_id(index: int, district: str = "210105") -> str:
    """A valid 18-character number, distinct for each index below 365,000."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=index // 1000)
    body = f"{district}{birth:%Y%m%d}{index % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # it wants a placeholder check character


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tekun_row(pid: str) -> list[str]:
    return [pid, "测试人", "tekun", "", "individual", "210105", "华山社区", "cw-210105-01",
            "1200.00", "2020-01-01", "active"]  # fmt: skip


def tekun_roster(path: Path, ids: list[str]) -> Path:
    return write_csv(path, ROSTER_HEADER, [tekun_row(pid) for pid in ids])


def psb_deaths(path: Path, ids: list[str]) -> Path:
    header = ["公民身份号码", "姓名", "死亡日期", "注销日期", "业务流水号", "状态"]
    rows = [
        [pid, "测试人", "2026-10-01", "2026-10-05", f"GA{i:08d}", "正常"]
        for i, pid in enumerate(ids)
    ]
    return write_csv(path, header, rows)


def health_deaths(path: Path, ids: list[str]) -> Path:
    header = ["身份证号", "姓名", "死亡时间", "医疗机构", "证明编号"]
    rows = [[pid, "测试人", "2026-10-01 08:00", "医院", f"Y{i:08d}"] for i, pid in enumerate(ids)]
    return write_csv(path, header, rows)
