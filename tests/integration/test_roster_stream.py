"""`roster load` through the stream (issue 10, item 4), on the real Kafka and Redis: the loader
publishes a snapshot on roster.changes and the worker is the roster's only writer, so roster
changes sent while a snapshot loads are not lost to it; a snapshot with a bad row sends nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import redis.asyncio as aioredis
from kafka import KafkaProducer, TopicPartition

from streams.store import PersonStore
from tests import citygen
from tests.integration.conftest import WW, Cli, Worker
from tests.integration.redis_state import settings_of
from tests.integration.rosters import end_offsets, read_from
from welfare_watch import kafka, names
from welfare_watch.models import Enrollment
from welfare_watch.settings import Settings

SNAPSHOT = 100_000  # people on the snapshot, a row each
UPDATED = [citygen.person_id(i) for i in range(30)]  # a new caseworker each round
TOGGLED = [citygen.person_id(i) for i in range(30, 60)]  # suspended, resumed, suspended ...
LEFT = [citygen.person_id(300_000 + i) for i in range(100)]  # on the roster, not the snapshot


def _row(pid: str, **changed: str) -> dict[str, str]:
    return dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(pid), strict=True)) | changed


def _roster(path: Path, rows: list[dict[str, str]]) -> Path:
    return citygen.write_csv(path, citygen.ROSTER_HEADER, [list(r.values()) for r in rows])


@dataclass(frozen=True)
class Sent:
    """One roster change the roster system sent while the snapshot was loading."""

    person_id: str
    round: int
    at: float  # Kafka's timestamp, epoch seconds: when the change was made
    partition: int
    offset: int


def _changes_while(loading: subprocess.Popen[bytes], bootstrap: str) -> list[Sent]:
    """A round of changes every 0.5 s until the load ends: an update of each UPDATED person,
    a suspend (even rounds) or resume (odd) of each TOGGLED, a new person enrolled."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sent: list[Sent] = []
    try:
        for number in range(10_000):
            if loading.poll() is not None:
                break
            op = "suspend" if number % 2 == 0 else "resume"
            bodies = [
                {"op": "update", **_row(p, caseworker_id=f"cw-round-{number}")} for p in UPDATED
            ]
            bodies += [{"op": op, "person_id": p, "program": "tekun"} for p in TOGGLED]
            bodies.append({"op": "enroll", **_row(citygen.person_id(310_000 + number))})
            futures = [
                producer.send(
                    names.ROSTER_CHANGES,
                    key=str(b["person_id"]).encode(),
                    value=json.dumps(b, ensure_ascii=False).encode(),
                )
                for b in bodies
            ]
            producer.flush()
            for body, future in zip(bodies, futures, strict=True):
                meta = future.get(timeout=30)
                pid = str(body["person_id"])
                sent.append(Sent(pid, number, meta.timestamp / 1000, meta.partition, meta.offset))
            time.sleep(0.5)
    finally:
        producer.close()
    return sent


def _replace_of(bootstrap: str, snapshot: str, pid: str, partition: int) -> tuple[int, dt.datetime]:
    """The offset of `pid`'s `replace` of `snapshot` in its partition, and the snapshot's time."""
    consumer = kafka.consumer_for(bootstrap, enable_auto_commit=False, group_id=None)
    tp = TopicPartition(names.ROSTER_CHANGES, partition)
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        while True:
            for record in consumer.poll(timeout_ms=1000).get(tp, []):
                body = json.loads(record.value)
                if body.get("snapshot") == snapshot and body["person_id"] == pid:
                    return record.offset, dt.datetime.fromisoformat(body["snapshot_at"])
    finally:
        consumer.close()


def _enrollments(settings: Settings, people: list[str]) -> dict[str, tuple[Enrollment, ...]]:
    async def main() -> dict[str, tuple[Enrollment, ...]]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            store = PersonStore(client, settings.policy.worker.partitions)
            found: dict[str, tuple[Enrollment, ...]] = {}
            for start in range(0, len(people), 5000):
                loaded = await store.load(people[start : start + 5000])
                found |= {pid: state.enrollments for pid, state in loaded.states.items()}
            return found
        finally:
            await client.aclose()

    return asyncio.run(main())


def _last_after(sent: list[Sent], taken: dt.datetime) -> dict[str, Sent]:
    """Per person, their last change made after the snapshot was taken."""
    last: dict[str, Sent] = {}
    for change in sent:
        if change.at > taken.timestamp():
            last[change.person_id] = change
    return last


def test_roster_changes_sent_while_a_snapshot_loads_all_survive_in_order(
    ww: Cli, worker: Worker, tmp_path: Path
) -> None:
    settings = settings_of(ww)
    bootstrap = settings.env.kafka_bootstrap
    worker.start()
    before = [_row(p, monthly_amount="1000.00") for p in UPDATED + TOGGLED + LEFT]
    ww("roster", "load", str(_roster(tmp_path / "yesterday.csv", before)))
    ww("wait", "--timeout", "300")
    snapshot = [_row(citygen.person_id(i)) for i in range(SNAPSHOT)]  # 1200.00 a month each
    path = _roster(tmp_path / "today.csv", snapshot)

    loading = subprocess.Popen(
        [WW, "roster", "load", str(path)], env=ww.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    sent = _changes_while(loading, bootstrap)
    out, errors = loading.communicate(timeout=600)
    assert loading.returncode == 0, errors.decode()[-2000:]
    said = rf"{SNAPSHOT} enrollments of {SNAPSHOT} people, 0 rejected, (\d+) removed.* (\w+) sent"
    report = re.search(said, out.decode())
    assert report is not None, out.decode()
    assert int(report[1]) >= len(LEFT)  # and people enrolled before the snapshot was taken
    ww("wait", "--timeout", "600")

    first = next(s for s in sent if s.person_id == UPDATED[0])
    replaced_at, taken = _replace_of(bootstrap, report[2], UPDATED[0], first.partition)
    last = _last_after(sent, taken)
    theirs = [s for s in sent if s.person_id == UPDATED[0] and s.at > taken.timestamp()]
    # made after the snapshot was taken, some reached Kafka before the person's replace, some
    # after it, and the last one after every other: the cases the worker must order
    assert any(s.offset < replaced_at for s in theirs), "no change before the replace"
    assert any(s.offset > replaced_at for s in theirs), "no change after the replace"

    new = sorted({s.person_id for s in sent} - set(UPDATED) - set(TOGGLED))
    people = [citygen.person_id(i) for i in range(SNAPSHOT)] + LEFT + new
    enrolled = _enrollments(settings, people)
    for pid in UPDATED:
        (e,) = enrolled[pid]
        assert (e.caseworker_id, e.status) == (f"cw-round-{last[pid].round}", "active")
    for pid in TOGGLED:
        (e,) = enrolled[pid]
        assert e.status == ("suspended" if last[pid].round % 2 == 0 else "active")
    for pid in people[len(UPDATED + TOGGLED) : SNAPSHOT]:  # no change: as the snapshot says
        (e,) = enrolled[pid]
        assert (e.status, e.monthly_amount, e.caseworker_id) == (
            "active",
            Decimal("1200.00"),
            "cw-210105-01",
        )
    assert all(enrolled[pid] == () for pid in LEFT)  # removed: not on the snapshot
    for pid in new:  # enrolled after the snapshot was taken: kept, even if a `remove` came
        if pid in last:
            assert [e.status for e in enrolled[pid]] == ["active"]
    assert sum(end_offsets(bootstrap, names.REJECTED).values()) == 0  # no change refused


def test_a_snapshot_with_a_bad_row_sends_nothing_unless_partial(ww: Cli, tmp_path: Path) -> None:
    settings = settings_of(ww)
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    good = [citygen.person_id(i) for i in range(3)]
    rows = [_row(good[0]), _row(good[1]), _row(good[2], district_code="999999"), _row(good[2])]
    path = _roster(tmp_path / "roster.csv", rows)

    refused = subprocess.run(
        [WW, "roster", "load", str(path)], env=ww.env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip

    assert refused.returncode == 1
    assert "roster load refused: 1 of 4 rows are bad (first: line 4:" in refused.stderr
    assert "nothing was replaced" in refused.stderr
    assert sum(end_offsets(bootstrap, names.ROSTER_CHANGES).values()) == 0

    loaded = ww("roster", "load", "--partial", str(path))

    assert "3 enrollments of 3 people, 1 rejected, 0 removed" in loaded
    messages = read_from(bootstrap, names.ROSTER_CHANGES, {})
    bodies = [json.loads(m.value) for m in messages]
    replaces = sorted((m.key, b["person_id"], len(b["enrollments"])) for m, b in
                      zip(messages, bodies, strict=True) if b.get("op") == "replace")  # fmt: skip
    assert replaces == sorted((p.encode(), p, 1) for p in good)  # keyed by the person
    snapshots = {(b.get("snapshot"), b.get("snapshot_at")) for b in bodies if "op" in b}
    ((snapshot_id, taken),) = snapshots  # one snapshot, one time
    assert dt.datetime.fromisoformat(taken).tzinfo is not None
    ends = sorted((m.partition, m.key) for m, b in zip(messages, bodies, strict=True)
                  if b.get("delivery_end") == snapshot_id)  # fmt: skip
    assert ends == [(p, None) for p in range(settings.policy.worker.partitions)]
    for partition in range(settings.policy.worker.partitions):  # each marker after its people
        last = [b for m, b in zip(messages, bodies, strict=True) if m.partition == partition][-1]
        assert last.get("delivery_end") == snapshot_id
