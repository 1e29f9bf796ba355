"""A missing record is evidence only while its feed is current; a sender that dies before its
end marker does not leave its people waiting for the daily scan. On the real stack."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from kafka import KafkaProducer

from connectors.delivery import SnapshotBegin
from streams.snapshots import SnapshotProgress
from tests import citygen
from tests.integration.conftest import Cli, Worker, stored_alerts
from welfare_watch import names, redis_client
from welfare_watch.models import Fact

CHECK_HEADER = ["身份证号", "认证时间", "认证方式"]


def _checks(ww: Cli, path: Path, rows: list[list[str]]) -> None:
    ww("ingest", "survival_checks", str(citygen.write_csv(path, CHECK_HEADER, rows)))
    ww("wait")


def test_no_survival_alert_before_the_feed_delivers_and_a_late_check_refutes(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    checked, unchecked = citygen.person_id(61), citygen.person_id(62)
    worker.start()
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "r.csv", [checked, unchecked])))
    ww("wait")
    ww("scan")  # the survival-check feed has never delivered: absence proves nothing
    ww("wait")
    assert stored_alerts(ww.env) == []
    assert "SURVIVAL_CHECK_OVERDUE held back for 2 people" in worker.log.read_text()

    _checks(ww, tmp_path / "c1.csv", [[checked, "2026-11-01 10:00", "人脸"]])
    ww("scan")
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert (alert.person_id, alert.type, alert.status) == (
        unchecked, "SURVIVAL_CHECK_OVERDUE", "open"
    )  # fmt: skip
    assert alert.as_of == dt.date.fromisoformat(ww.env["WW_AS_OF"])

    # The check was done in time but reached us late: the absence never held.
    _checks(ww, tmp_path / "c2.csv", [[unchecked, "2026-11-20 15:30", "上门"]])
    (alert,) = stored_alerts(ww.env)
    assert (alert.status, alert.condition) == ("withdrawn", "refuted")
    assert alert.history[-1].why.startswith("refuted: survival_checks record")


def test_a_delivery_whose_sender_died_is_ended_for_it(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    ww, worker = _quick_to_abandon(stack_env, tmp_path)
    try:
        pid = citygen.person_id(63)
        ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", [pid])))
        ww("wait")
        # A sender that put one record of its delivery on Kafka and died: no end marker.
        death = Fact(
            feed="psb_deaths", kind="death", record_id="GA-DEAD", person_id=pid, name="测试人",
            event_date=dt.date(2026, 10, 1), attrs={"status": "active", "authoritative": "true"},
            received_at=dt.datetime.now(dt.UTC), source="test", delivery="sender-died",
        )  # fmt: skip
        producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
        producer.send(names.FACTS, key=pid.encode(), value=death.model_dump_json().encode())
        producer.flush()
        producer.close()

        deadline = time.monotonic() + 90
        while not stored_alerts(ww.env):
            assert time.monotonic() < deadline, "the abandoned delivery was never evaluated"
            time.sleep(0.5)
        (alert,) = stored_alerts(ww.env)
        assert (alert.type, alert.trigger) == ("DECEASED_BENEFICIARY", "event")
        ww("wait")
        client = redis_client.connect(ww.env["WW_REDIS_URL"])
        assert list(client.scan_iter(match=names.PENDING_PATTERN)) == []
        assert client.hlen(names.PENDING_DELIVERIES) == 0
        # Ended on its behalf: it does not count as psb_deaths having delivered.
        assert client.zscore(names.FEED_DELIVERED, "psb_deaths") is None
        assert "ended 1 abandoned deliveries" in worker.log.read_text()
    finally:
        worker.stop()


def test_a_roster_snapshot_whose_loader_died_is_ended_for_it(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A household waits for an open snapshot (streams.snapshots); a loader that died after
    some of it, before its end markers, does not leave it waiting for ever: the sweep ends the
    snapshot's partitions, and the household is judged on what arrived (the member the
    snapshot added counts)."""
    ww, worker = _quick_to_abandon(stack_env, tmp_path)
    try:
        head, member = citygen.person_id(64), citygen.person_id(65)
        roster = citygen.write_csv(
            tmp_path / "roster.csv", citygen.ROSTER_HEADER, [_dibao(head, "head", "1000.00")]
        )
        ww("roster", "load", str(roster))
        ww("wait")
        # A loader that sent the begin markers and two people, then died.
        taken = dt.datetime.now(dt.UTC)
        producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
        for partition in producer.partitions_for(names.ROSTER_CHANGES):
            begin = SnapshotBegin.marker("died", taken)
            producer.send(names.ROSTER_CHANGES, value=begin, partition=partition)
        for pid, role, amount in ((head, "head", "1000.00"), (member, "member", "0.00")):
            rows = [dict(zip(citygen.ROSTER_HEADER, _dibao(pid, role, amount), strict=True))]
            body = {"op": "replace", "person_id": pid, "snapshot": "died",
                    "snapshot_at": taken.isoformat(), "enrollments": rows}  # fmt: skip
            producer.send(names.ROSTER_CHANGES, key=pid.encode(), value=json.dumps(body).encode())
        producer.flush()
        producer.close()
        income = citygen.write_csv(
            tmp_path / "income.csv", ["身份证号", "姓名", "所属期", "缴费单位", "月收入"],
            [[head, "测试人", "2026-10", "某公司", "2400.00"]],
        )  # fmt: skip
        ww("ingest", "income", str(income))
        ww("wait")  # the head waits for the snapshot, the sweep ends it

        (alert,) = stored_alerts(ww.env)
        assert alert.type == "INCOME_OVER_THRESHOLD"
        assert "(2400.00 over 2 people)" in alert.reason
        # `event` when the income file's end brought them in; `enrollment` when the sweep's
        # end of the snapshot in the head's partition came first and made it whole
        assert alert.trigger in ("event", "enrollment")
        client = redis_client.connect(ww.env["WW_REDIS_URL"])
        (raw,) = client.hmget(names.SNAPSHOTS, ["died"])
        assert raw is not None and SnapshotProgress.decode("died", raw).whole is not None
        assert list(client.scan_iter(match=names.PENDING_PATTERN)) == []
        assert "ended 1 abandoned roster snapshots" in worker.log.read_text()
    finally:
        worker.stop()


def _quick_to_abandon(stack_env: dict[str, str], tmp_path: Path) -> tuple[Cli, Worker]:
    """An emptied store and a started worker that ends what has been quiet for 2 s."""
    config = tmp_path / "abandon-fast.toml"
    config.write_text("[worker]\nabandon_after = 2\nabandon_check_every = 1\n")
    ww = Cli({**stack_env, "WW_CONFIG": str(config)})
    ww("reset", "--yes")
    return ww, ww.worker(tmp_path / "worker.log").start()


def _dibao(pid: str, role: str, amount: str) -> list[str]:
    return [pid, "测试人", "dibao_urban", "HH-210105-000064", role, "210105", "华山社区",
            "cw-210105-01", amount, "2020-01-01", "active"]  # fmt: skip
