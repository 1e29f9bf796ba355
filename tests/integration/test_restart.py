"""A worker killed in the middle of a file: after a restart no alert is missing, none is twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import redis

from tests import citygen
from tests.integration.conftest import Cli, Worker, stored_alerts
from welfare_watch import names, redis_client

# enough that the worker is still raising alerts when it is killed: a delivery's people are
# evaluated at its end marker, a partition at a time, and the first alerts trigger the kill
PEOPLE = 8000


def test_kill_and_restart_loses_nothing_and_doubles_nothing(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    ids = [citygen.person_id(i) for i in range(PEOPLE)]
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", ids)))
    ww("ingest", "psb_deaths", str(citygen.psb_deaths(tmp_path / "psb.csv", ids)))
    ww("ingest", "health_deaths", str(citygen.health_deaths(tmp_path / "health.csv", ids)))

    client = redis_client.connect(ww.env["WW_REDIS_URL"])
    worker.start()
    deadline = time.monotonic() + 120
    while _alerts_written(client) == 0:
        assert time.monotonic() < deadline, "the worker wrote no alert within 120s"
        time.sleep(0.01)
    worker.kill()
    written_at_kill = _alerts_written(client)
    assert written_at_kill < PEOPLE, "the worker finished before it could be killed mid-file"

    worker.start()
    ww("wait", "--timeout", "180")
    alerts = stored_alerts(ww.env)
    assert sorted(a.person_id for a in alerts) == sorted(ids)  # none missing, none twice
    for alert in alerts:
        assert alert.type == "DECEASED_BENEFICIARY"
        assert alert.confidence == "confirmed"
        assert sorted(e.feed for e in alert.evidence) == ["health_deaths", "psb_deaths"]
        assert [h.action for h in alert.history].count("opened") == 1


def _alerts_written(client: redis.Redis) -> int:
    """Alerts in the alert index (every shard)."""
    pipe = client.pipeline(transaction=False)
    for shard in range(names.ALERT_SHARDS):
        pipe.hlen(names.alert_index_key(shard))
    return sum(cast(list[int], pipe.execute()))
