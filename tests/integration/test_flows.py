"""Revocation, roster.changes and bad messages through the real Kafka and Redis."""

from __future__ import annotations

import json
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from tests import citygen
from tests.integration.conftest import Cli, Worker, stored_alerts
from welfare_watch import names

PSB_HEADER = ["公民身份号码", "姓名", "死亡日期", "注销日期", "业务流水号", "状态"]


PAYMENT_HEADER = ["身份证号", "姓名", "项目代码", "发放月份", "金额", "发放日期", "发放批次号"]


def test_revoked_death_withdraws_everything_that_rested_on_it(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    pid = citygen.person_id(7)
    worker.start()
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [pid])))
    death = [pid, "测试人", "2026-10-01", "2026-10-05", "GA-1", "正常"]
    ww("ingest", "psb_deaths", str(citygen.write_csv(tmp_path / "d.csv", PSB_HEADER, [death])))
    paid = [pid, "测试人", "tekun", "2026-11", "1200.00", "2026-11-10", "B-11"]
    ww("ingest", "payments", str(citygen.write_csv(tmp_path / "p.csv", PAYMENT_HEADER, [paid])))
    ww("wait")
    opened = {a.type: a.status for a in stored_alerts(ww.env)}
    assert opened == {"DECEASED_BENEFICIARY": "open", "POSTHUMOUS_PAYMENT": "open"}

    revoked = [pid, "测试人", "2026-10-01", "2026-10-05", "GA-1", "撤销"]
    ww("ingest", "psb_deaths", str(citygen.write_csv(tmp_path / "r.csv", PSB_HEADER, [revoked])))
    ww("wait")
    alerts = stored_alerts(ww.env)
    assert {a.type: a.status for a in alerts} == {
        "DECEASED_BENEFICIARY": "withdrawn",
        "POSTHUMOUS_PAYMENT": "withdrawn",
    }
    assert all(a.history[-1].action == "withdrawn" for a in alerts)


def _send_roster_change(ww: Cli, change: dict[str, str]) -> None:
    producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
    producer.send(
        names.ROSTER_CHANGES,
        key=change["person_id"].encode(),
        value=json.dumps(change, ensure_ascii=False).encode(),
    )
    producer.flush()
    producer.close()


def test_enrollment_after_a_death_finds_the_death_and_exit_annotates(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    pid = citygen.person_id(8)
    worker.start()
    death = [pid, "测试人", "2026-10-01", "2026-10-05", "GA-2", "正常"]
    ww("ingest", "psb_deaths", str(citygen.write_csv(tmp_path / "d.csv", PSB_HEADER, [death])))
    ww("wait")
    assert stored_alerts(ww.env) == []  # nobody enrolled yet

    row = dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(pid), strict=True))
    _send_roster_change(ww, {**row, "op": "enroll"})
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert (alert.type, alert.trigger, alert.status) == (
        "DECEASED_BENEFICIARY",
        "enrollment",
        "open",
    )

    _send_roster_change(ww, {**row, "op": "exit"})
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert alert.status == "open"  # a person closes it, not the system
    assert alert.condition == "ended"


def test_an_unreadable_roster_change_goes_to_dept_rejected(ww: Cli, worker: Worker) -> None:
    worker.start()
    change = {"op": "enroll", "person_id": "210105195203140119"}
    _send_roster_change(ww, change)
    ww("wait")
    consumer = KafkaConsumer(
        names.REJECTED,
        bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    rejected = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(rejected) == 1
    assert rejected[0]["feed"] is None  # a roster change belongs to no department feed
    assert rejected[0]["source"].startswith(f"{names.ROSTER_CHANGES}/")
    assert rejected[0]["record"] == {"message": json.dumps(change)}
    assert len(rejected[0]["rejection_id"]) == 20
    assert "check character" in rejected[0]["reason"]


VEHICLE_HEADER = ["所有人证件号码", "所有人姓名", "号牌号码", "车辆类型", "登记日期", "状态"]


def test_a_files_history_is_evaluated_as_a_whole(ww: Cli, worker: Worker, tmp_path: Path) -> None:
    """Registered, then 3,000 rows (several worker batches) later deregistered: silent."""
    owner = citygen.person_id(40)
    worker.start()
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [owner])))
    ww("wait")
    rows = [[owner, "测试人", "辽A00001", "小型汽车", "2019-03-01", "注册"]]
    rows += [
        [citygen.person_id(1000 + i), "他人", f"辽B{i:05d}", "摩托车", "2020-01-01", "注册"]
        for i in range(3000)
    ]
    rows += [[owner, "测试人", "辽A00001", "小型汽车", "2021-06-01", "注销"]]
    ww("ingest", "vehicles", str(citygen.write_csv(tmp_path / "v.csv", VEHICLE_HEADER, rows)))
    ww("wait")
    assert [a.type for a in stored_alerts(ww.env)] == []


def test_a_later_file_ending_the_condition_annotates_the_open_alert(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    owner = citygen.person_id(41)
    worker.start()
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [owner])))
    registered = [[owner, "测试人", "辽A00002", "小型汽车", "2019-03-01", "注册"]]
    ww("ingest", "vehicles", str(citygen.write_csv(tmp_path / "a.csv", VEHICLE_HEADER, registered)))
    ww("wait")
    deregistered = [[owner, "测试人", "辽A00002", "小型汽车", "2026-11-01", "注销"]]
    ww(
        "ingest",
        "vehicles",
        str(citygen.write_csv(tmp_path / "b.csv", VEHICLE_HEADER, deregistered)),
    )
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert (alert.type, alert.status, alert.condition) == ("VEHICLE_OWNER", "open", "ended")
