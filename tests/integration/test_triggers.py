"""The scan, the timer, household re-evaluation and the pre-approval check, on the real stack."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

from streams.scan import run_daily_scan_if_due
from tests import citygen
from tests.integration.conftest import WW, Cli, Worker, stored_alerts
from tests.integration.rosters import apply_roster
from welfare_watch import names, redis_client
from welfare_watch.settings import Settings

PSB_HEADER = ["公民身份号码", "姓名", "死亡日期", "注销日期", "业务流水号", "状态"]
INCOME_HEADER = ["身份证号", "姓名", "所属期", "缴费单位", "月收入"]


def test_scan_escalates_alerts_past_due_to_the_supervisor(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    pid = citygen.person_id(11)
    worker.start()
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [pid])))
    death = [pid, "测试人", "2026-10-01", "2026-10-05", "GA-9", "正常"]
    ww("ingest", "psb_deaths", str(citygen.write_csv(tmp_path / "d.csv", PSB_HEADER, [death])))
    ww("wait")
    ww("scan")  # today: nothing is overdue yet
    ww("wait")
    assert {a.type for a in stored_alerts(ww.env)} == {"DECEASED_BENEFICIARY"}

    ww("scan", "--as-of", "2026-12-31")
    ww("wait")
    by_type = {a.type: a for a in stored_alerts(ww.env)}
    escalation = by_type["CASE_OVERDUE"]
    assert escalation.queue == "supervisor-210105"
    assert escalation.severity == "critical"
    assert escalation.trigger == "scan"
    assert by_type["DECEASED_BENEFICIARY"].alert_id in escalation.reason


def test_the_worker_runs_the_daily_scan_by_itself(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "scan-now.toml"
    config.write_text('[scan]\ndaily_at = "00:00"\ncheck_every = 1\n')
    ww = Cli({**stack_env, "WW_CONFIG": str(config)})
    ww("reset", "--yes")
    worker = ww.worker(tmp_path / "worker.log").start()
    try:
        client = redis_client.connect(ww.env["WW_REDIS_URL"])
        ww("roster", "load", str(citygen.tekun_roster(tmp_path / "r.csv", [citygen.person_id(12)])))
        deadline = time.monotonic() + 90
        while client.get(names.LAST_SCAN) is None:
            assert time.monotonic() < deadline, "the worker did not run its daily scan"
            time.sleep(0.5)
        assert client.get(names.LAST_SCAN) == ww.env["WW_AS_OF"].encode()
    finally:
        worker.stop()


def test_a_members_income_re_evaluates_the_household(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    head, member = citygen.person_id(21), citygen.person_id(22)
    rows = [
        [head, "户主", "dibao_urban", "HH-1", "head", "210105", "华山社区", "cw-210105-01",
         "900.00", "2020-01-01", "active"],
        [member, "成员", "dibao_urban", "HH-1", "member", "210105", "华山社区", "cw-210105-01",
         "0.00", "2020-01-01", "active"],
    ]  # fmt: skip
    worker.start()
    ww("roster", "load", str(citygen.write_csv(tmp_path / "r.csv", citygen.ROSTER_HEADER, rows)))
    first = [[head, "户主", "2026-09", "某公司", "1500.00"]]
    ww("ingest", "income", str(citygen.write_csv(tmp_path / "i1.csv", INCOME_HEADER, first)))
    ww("wait")
    assert stored_alerts(ww.env) == []  # 1500 over two people: 750

    second = [[member, "成员", "2026-09", "某公司", "1000.00"]]
    ww("ingest", "income", str(citygen.write_csv(tmp_path / "i2.csv", INCOME_HEADER, second)))
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert (alert.type, alert.person_id, alert.program) == (
        "INCOME_OVER_THRESHOLD",
        head,
        "dibao_urban",
    )
    assert [e.feed for e in alert.evidence] == ["income", "income"]  # both members' incomes
    assert alert.trigger == "event"


def test_check_reports_findings_without_creating_alerts(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    dead, clean = citygen.person_id(31), citygen.person_id(32)
    worker.start()
    death = [dead, "测试人", "2026-10-01", "2026-10-05", "GA-31", "正常"]
    ww("ingest", "psb_deaths", str(citygen.write_csv(tmp_path / "d.csv", PSB_HEADER, [death])))
    ww("wait")
    done = subprocess.run(
        [WW, "check", "--program", "tekun", dead, clean.lower()],
        env=ww.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"{dead}: DECEASED_BENEFICIARY" in done.stdout
    assert f"{clean}: no findings" in done.stdout
    assert stored_alerts(ww.env) == []


def test_the_daily_scan_waits_for_a_roster(ww: Cli, tmp_path: Path) -> None:
    """A fresh store has nobody to judge: the timer neither scans nor marks the day done."""
    settings = Settings.load(
        kafka_bootstrap=ww.env["WW_KAFKA_BOOTSTRAP"],
        redis_url=ww.env["WW_REDIS_URL"],
        as_of=ww.env["WW_AS_OF"],
    )
    client = redis_client.connect(ww.env["WW_REDIS_URL"])
    at_three = dt.datetime(2026, 11, 28, 3, 0)
    assert run_daily_scan_if_due(settings, at_three) is None
    assert client.get(names.LAST_SCAN) is None
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "r.csv", [citygen.person_id(12)]))
    assert run_daily_scan_if_due(settings, at_three) == 1
    assert client.get(names.LAST_SCAN) == ww.env["WW_AS_OF"].encode()
