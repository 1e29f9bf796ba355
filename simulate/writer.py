"""The simulated city's files: the roster, one CSV per feed and the expected alerts, streamed."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ROSTER = "roster"
EXPECTED_FILE = "expected_alerts.jsonl"
ROSTER_HEADER = (
    "person_id", "name", "program", "household_id", "role", "district_code", "community",
    "caseworker_id", "monthly_amount", "start_date", "status",
)  # fmt: skip
# Column headers exactly as feeds.md (and config/feeds.toml) write them.
_HEADERS = {
    "psb_deaths": "公民身份号码,姓名,死亡日期,注销日期,业务流水号,状态",
    "health_deaths": "身份证号,姓名,死亡时间,医疗机构,证明编号",
    "cremations": "逝者身份证号,逝者姓名,火化日期,殡仪馆,火化证号",
    "hukou_moves": "公民身份号码,姓名,迁移类型,迁出地区划代码,迁入地区划代码,迁移日期,业务流水号",
    "prison": "身份证号码,姓名,事件,日期,监狱名称,刑期止日,记录编号",
    "vehicles": "所有人证件号码,所有人姓名,号牌号码,车辆类型,登记日期,状态",
    "real_estate": "权利人证件号,权利人姓名,不动产单元号,用途,面积,登记日期,状态",
    "enterprises": "证件号码,姓名,统一社会信用代码,企业名称,身份,企业状态,登记日期",
    "income": "身份证号,姓名,所属期,缴费单位,月收入",
    "staff_relatives": "干部工号,干部姓名,所在区划代码,亲属身份证号,亲属姓名,关系",
    "payments": "身份证号,姓名,项目代码,发放月份,金额,发放日期,发放批次号",
    "survival_checks": "身份证号,认证时间,认证方式",
}
FEED_HEADERS = {feed: tuple(header.split(",")) for feed, header in _HEADERS.items()}
FEEDS = tuple(FEED_HEADERS)
_BUFFER = 1 << 20


class CityWriter:
    """Open files, one row at a time; counts every row and every expected alert by type."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.rows: Counter[str] = Counter()
        self.alerts: Counter[str] = Counter()
        self._files: list[IO[str]] = []
        self._writers: dict[str, Any] = {}
        for table, header in ((ROSTER, ROSTER_HEADER), *FEED_HEADERS.items()):
            handle = self._open(out / f"{table}.csv")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            self._writers[table] = writer
        self._expected = self._open(out / EXPECTED_FILE)

    def _open(self, path: Path) -> IO[str]:
        handle = path.open("w", encoding="utf-8", newline="", buffering=_BUFFER)
        self._files.append(handle)
        return handle

    def row(self, table: str, values: tuple[str, ...] | list[str]) -> None:
        self._writers[table].writerow(values)
        self.rows[table] += 1

    def expect(self, alert: dict[str, Any]) -> None:
        self._expected.write(json.dumps(alert, ensure_ascii=False) + "\n")
        self.alerts[str(alert["type"])] += 1

    def close(self) -> None:
        for handle in self._files:
            handle.close()

    def __enter__(self) -> CityWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
