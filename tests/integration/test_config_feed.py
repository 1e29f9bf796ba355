"""A 42nd department is configuration: a county funeral home's export, its own columns and
encoding, added through WW_CONFIG alone, gives alerts with no code change."""

from __future__ import annotations

from pathlib import Path

from tests import citygen
from tests.integration.conftest import Cli, stored_alerts

COUNTY = """
[feeds.county_cremations]
department = "法库县殡仪馆 火化登记"
fact = "death"
encoding = "gb18030"
delimiter = ";"
attrs = { date_is_upper_bound = true }

[feeds.county_cremations.columns]
"身份证" = { field = "person_id", type = "id" }
"死者" = { field = "name", type = "name" }
"火化时间" = { field = "event_date", type = "date" }
"编号" = { field = "record_id" }
"""


def test_a_feed_added_by_configuration_alone_gives_alerts(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "county.toml"
    config.write_text(COUNTY, encoding="utf-8")
    ww = Cli({**stack_env, "WW_CONFIG": str(config)})
    ww("reset", "--yes")
    worker = ww.worker(tmp_path / "worker.log").start()
    try:
        pid = citygen.person_id(51, district="210124")
        ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [pid])))
        export = tmp_path / "county.csv"
        export.write_bytes(
            f"身份证;死者;火化时间;编号\n{pid.lower()};测试人;2026/10/03;FK-7\n".encode("gb18030")
        )
        assert "accepted 1, rejected 0" in ww("ingest", "county_cremations", str(export))
        ww("wait")
        (alert,) = stored_alerts(ww.env)
        assert (alert.type, alert.confidence) == ("DECEASED_BENEFICIARY", "unverified")
        assert [(e.feed, e.record_id) for e in alert.evidence] == [("county_cremations", "FK-7")]
    finally:
        worker.stop()
