"""Several workers on Redis Cluster (issue 10): three workers over six partitions on a
three-master cluster give a simulated city's exact alerts, while a fourth joins and one is
killed mid-stream; every alert once, no fact lost, no household membership lost.

Runs where Redis is a cluster (`WW_TEST_REDIS_CLUSTER=1`, as `make test` does in its second
pass); skipped on a single Redis. Timings are printed (`pytest -s`), never asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from connectors.parse import parse_feed
from streams import people
from tests.integration.conftest import REDIS_CLUSTER, Cli
from tests.integration.redis_state import settings_of
from tests.integration.test_city import FEEDS
from welfare_watch import names, redis_client
from welfare_watch.models import Fact

pytestmark = pytest.mark.skipif(
    not REDIS_CLUSTER, reason="runs on Redis Cluster (WW_TEST_REDIS_CLUSTER=1)"
)

PARTITIONS = 6
PEOPLE = 20_000
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


@pytest.fixture()
def six(ww: Cli, tmp_path: Path) -> Cli:
    """The CLI and workers with six partitions per worker input."""
    config = tmp_path / "six.toml"
    config.write_text(f"[worker]\npartitions = {PARTITIONS}\n", "utf-8")
    return Cli({**ww.env, "WW_CONFIG": str(config)})


def test_three_workers_on_a_cluster_then_a_fourth_and_one_killed(six: Cli, tmp_path: Path) -> None:
    city = tmp_path / "city"
    six("simulate", "--people", str(PEOPLE), "--seed", "7", "--out", str(city))
    workers = [six.worker(tmp_path / f"worker-{n}.log") for n in range(4)]
    started = time.monotonic()
    try:
        for w in workers[:3]:
            w.start()
        # the feeds follow the roster at once: households wait until every partition has
        # applied the snapshot (streams.snapshots)
        six("roster", "load", str(city / "roster.csv"))
        for n, feed in enumerate([*FEEDS, "payments"]):
            if feed == "payments":  # after the back-load, as test_city sends them
                six("wait", "--timeout", "600", timeout=700)
            six("ingest", feed, str(city / f"{feed}.csv"))
            if n == 2:
                workers[3].start()  # a fourth joins mid-stream: partitions move
            if n == 5:
                workers[0].kill()  # and one dies without a word (SIGKILL)
        six("wait", "--timeout", "600", timeout=700)
        six("scan")
        six("wait", "--timeout", "600", timeout=700)
        elapsed = time.monotonic() - started
        assert all(w.process is not None and w.process.poll() is None for w in workers[1:])
    finally:
        for w in workers:
            w.stop()
    report = six("evaluate", "--expected", str(city / "expected_alerts.jsonl"), check=False)
    print(f"scale-out: {PEOPLE} people, 4 workers over {PARTITIONS} partitions: {elapsed:.1f}s")
    print(report)
    assert "0 missed, 0 unexpected: exact" in report, report
    _no_alert_opened_twice(six)
    _every_fact_and_membership_kept(six, city)


def _no_alert_opened_twice(ww: Cli) -> None:
    """On the `alerts` topic, each (alert_id, version) once, or again byte for byte."""
    from tests.integration.test_faults_outbox import alerts_topic

    copies: dict[tuple[str, int], set[bytes]] = {}
    for value in alerts_topic(ww.env):
        body = json.loads(value)
        copies.setdefault((body["alert_id"], body["version"]), set()).add(value)
    differing = [key for key, variants in copies.items() if len(variants) > 1]
    assert differing == [], f"{len(differing)} alert versions published with different bytes"


def _every_fact_and_membership_kept(ww: Cli, city: Path) -> None:
    """Every record the connectors accept from the city's files is in its person's stored
    facts, and every household holds everyone whose enrollment names it."""
    settings = settings_of(ww)
    expected: dict[str, set[str]] = {}
    for feed in [*FEEDS, "payments"]:
        for item in parse_feed(settings.feeds[feed], city / f"{feed}.csv", NOW, "file:test"):
            if isinstance(item, Fact):
                expected.setdefault(item.person_id, set()).add(item.identity)
    client = redis_client.connect(ww.env["WW_REDIS_URL"])
    try:
        owners = sorted(expected)
        facts = people.facts(client, owners)
        enrolled = sorted(people.roster_people(client))
        members: dict[str, set[bytes]] = {}
        for pid, raw in zip(
            enrolled, people.fields(client, enrolled, names.PERSON_ENROLLMENTS), strict=True
        ):
            for enrollment in json.loads(raw or b"[]"):
                if enrollment.get("household_id"):
                    members.setdefault(enrollment["household_id"], set()).add(pid.encode())
        pipe = client.pipeline(transaction=False)
        for household in members:
            pipe.smembers(names.household_key(household))
        kept = dict(zip(members, pipe.execute(), strict=True))
    finally:
        client.close()
    lost = sum(len(expected[pid] - set(stored)) for pid, stored in zip(owners, facts, strict=True))
    assert lost == 0, f"{lost} accepted records missing from the store"
    short = [h for h, m in members.items() if not m <= kept[h]]
    assert short == [], f"{len(short)} households lost a member"
