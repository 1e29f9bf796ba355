"""Poison on every worker input, and a rule that raises for one person, on the real stack.

One small city (tests.citygen: 40 people on `tekun`, 10 of them dead by psb_deaths). Then, with
the worker running, good messages go to every input topic with a poison message among them, in
the same partition as good ones before and after it:

- ww.facts: an end marker nested 100,000 deep (json.loads raises RecursionError);
- roster.changes: the same nesting (RecursionError in parse_roster_change);
- ww.recheck: `[]` (AttributeError in _recheck: the issue's example);
- ww.commands: a well-formed acknowledgement for a person whose stored alerts cannot be read
  (an older writer's or a damaged record: load raises), which a fix of the record cures;
- and a payment whose amount is not a number, beside a death, for one person: rule 18 (and 3)
  raise decimal.InvalidOperation evaluating them (the connectors never send such an amount, but
  ww.facts is internal and not validated again: a state that genuinely makes a rule raise today,
  no test hook). Two people of the same partition are evaluated in the same batch.

Then: every good message is processed, each poison is on ww.deadletter with its key, value and
headers byte for byte, the person whose evaluation raised has their facts saved, nothing is
stuck (`welfare-watch wait` returns). After fixing the two curable causes, `deadletter replay
--all` cures them; the three incurable ones fail again, come back marked as repeats, and a
second `replay --all` sends nothing (no loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2
from prometheus_client.parser import text_string_to_metric_families

from alerts.lifecycle import Actor, Command
from alerts.model import Alert
from connectors.delivery import end_delivery
from streams import people
from streams.deadletter import DeadLetter, read_all, replays, rows
from streams.store import decode_alerts
from tests import citygen
from tests.integration.conftest import WW, Cli, Worker
from welfare_watch import kafka, names, progress, redis_client
from welfare_watch.models import Fact

PEOPLE = 40
METRICS_PORT = 4990  # this engineer's P=4 range; the worker's /metrics
DEEP = b"[" * 100_000 + b"]" * 100_000
# Repeated names, binary and null values: kept whole, in order.
HEADERS: list[tuple[str, bytes | None]] = [
    ("origin", b"poison-test"),
    ("origin", b"twice"),
    ("bin", b"\x00\x01\xff"),
    ("null", None),
]
RECEIVED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def pid(i: int) -> str:
    return citygen.person_id(i)


def death(i: int, feed: str = "psb_deaths", delivery: str = "") -> Fact:
    attrs = {"status": "active", "authoritative": "true"} if feed == "psb_deaths" else {}
    return Fact(
        feed=feed,
        kind="death",
        record_id=f"T-{feed}-{i}",
        person_id=pid(i),
        name="测试人",
        event_date=dt.date(2026, 10, 1),
        attrs=attrs,
        received_at=RECEIVED,
        source="test",
        delivery=delivery,
    )


BAD_PAYMENT = "payments:T-PAY-1"


def bad_payment(i: int) -> Fact:
    return Fact(
        feed="payments",
        kind="payment",
        record_id="T-PAY-1",
        person_id=pid(i),
        name="测试人",
        event_date=dt.date(2026, 11, 1),
        attrs={"program": "tekun", "amount": "一千二百"},  # not a number
        received_at=RECEIVED,
        source="test",
    )


def enroll(i: int) -> bytes:
    row = dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(pid(i)), strict=True))
    return json.dumps({"op": "enroll", **row}).encode()


def partition_of(person: str, partitions: int = 4) -> int:
    """Kafka's default partitioner, as the producers key the worker's inputs."""
    return (int(murmur2(person.encode())) & 0x7FFFFFFF) % partitions


def ack(alert: Alert) -> Command:
    actor = Actor(subject="S0042", role="caseworker", scope=alert.queue, token_id="t-poison")
    return Command(alert_id=alert.alert_id, person_id=alert.person_id, action="ack", actor=actor,
                   at=RECEIVED)  # fmt: skip


class Sender:
    """aiokafka (kafka-python refuses a null header value), acks=all: every send waited for,
    so the offsets are known."""

    def __init__(self, bootstrap: str) -> None:
        async def started() -> AIOKafkaProducer:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
            )
            await producer.start()
            return producer

        self.loop = asyncio.new_event_loop()
        self.producer = self.loop.run_until_complete(started())

    def __call__(
        self,
        topic: str,
        value: bytes,
        key: str,
        headers: list[tuple[str, bytes | None]] | None = None,
    ) -> tuple[int, int]:
        send = self.producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers)
        meta = self.loop.run_until_complete(send)
        return meta.partition, meta.offset

    def close(self) -> None:
        self.loop.run_until_complete(self.producer.stop())
        self.loop.close()


def wait_for(what: str, check: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def alerts_by_person(env: dict[str, str]) -> dict[str, list[Alert]]:
    """Each person's stored alerts; one whose record the test made unreadable is left out."""
    client = redis_client.connect(env["WW_REDIS_URL"])
    everyone = list(people.everyone(client))
    found: dict[str, list[Alert]] = {}
    records = people.fields(client, everyone, names.PERSON_ALERTS)
    for person, record in zip(everyone, records, strict=True):
        with contextlib.suppress(ValueError):
            if record:
                found[person] = list(decode_alerts(record).values())
    return found


def alerts_topic(bootstrap: str, timeout: float = 60) -> list[bytes]:
    """Every message on `alerts`, from the start."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(names.ALERTS, p) for p in consumer.partitions_for_topic(names.ALERTS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, "could not read the alerts topic"
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        return values
    finally:
        consumer.close()


def topic_tally(bootstrap: str) -> tuple[dict[str, Alert], int]:
    """The latest version of each alert on `alerts`, and how many are duplicated: the same
    (alert_id, version) with different bytes, or the same alert key opened twice."""
    copies: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    for value in alerts_topic(bootstrap):
        body = json.loads(value)
        copies[(body["alert_id"], body["version"])].add(value)
    latest: dict[str, Alert] = {}
    for (alert_id, version), variants in copies.items():
        if alert_id not in latest or latest[alert_id].version < version:
            latest[alert_id] = Alert.model_validate_json(min(variants))
    differ = sum(1 for v in copies.values() if len(v) > 1)
    keys = Counter(tuple(a.key) for a in latest.values())
    opened_twice = sum(n - 1 for n in keys.values() if n > 1) + sum(
        1 for a in latest.values() if [h.action for h in a.history].count("opened") > 1
    )
    return latest, differ + opened_twice


def scrape(port: int) -> Callable[..., float | None]:
    """The worker's /metrics: a lookup by sample name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def sample(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    return sample


def facts_of(client: redis.Redis, person: str) -> dict[str, Fact]:
    (facts,) = people.facts(client, [person])
    return facts


def report(fault: str, injected: int, expected: int, found: int, duplicated: int,
           accepted: int, stored: int, recovery: float) -> None:  # fmt: skip
    """One row of the reliability table: printed, and appended to $WW_RELIABILITY_ROWS."""
    row = {
        "fault": fault,
        "times_injected": injected,
        "alerts_expected": expected,
        "alerts_found": found,
        "alerts_duplicated": duplicated,
        "facts_accepted": accepted,
        "facts_stored": stored,
        "recovery_seconds": round(recovery, 1),
    }
    print(
        f"\nreliability | {fault} | {injected} | {expected} / {found} / {duplicated} | "
        f"{accepted} / {stored} | {recovery:.1f}s"
    )
    if path := os.environ.get("WW_RELIABILITY_ROWS"):
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@pytest.fixture()
def metered(ww: Cli, tmp_path: Path) -> Any:
    # The held delivery stays open as long as the test wants (not ended as abandoned).
    config = tmp_path / "config.toml"
    config.write_text("[worker]\nabandon_after = 600\n")
    env = {**ww.env, "WW_METRICS_PORT": str(METRICS_PORT), "WW_CONFIG": str(config)}
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def test_poison_on_every_input_and_a_raising_rule_stop_nothing_and_replay_cures(
    ww: Cli, metered: Worker, tmp_path: Path
) -> None:
    env = ww.env
    bootstrap = env["WW_KAFKA_BOOTSTRAP"]
    client = redis_client.connect(env["WW_REDIS_URL"])
    ids = [pid(i) for i in range(PEOPLE)]
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "roster.csv", ids)))
    ww("ingest", "psb_deaths", str(citygen.psb_deaths(tmp_path / "psb.csv", ids[:10])))
    metered.start()
    ww("wait", "--timeout", "180")
    before = alerts_by_person(env)
    assert sorted(before) == ids[:10]
    send = Sender(bootstrap)

    # The acknowledgement that will be poison: person 3's stored alerts made unreadable.
    person3 = cast(bytes, client.hget(names.person_key(pid(3)), names.PERSON_ALERTS))
    client.hset(names.person_key(pid(3)), names.PERSON_ALERTS, b'{"written by": "a newer version"')

    # Facts of a delivery left open: saved, and evaluated at its end marker, whatever comes
    # before it: the re-checks below of 20, 21 and 22 are read (past the poison among them)
    # but wait for it (a person is judged on a whole file). Among them `crafted`, whose payment
    # makes a rule raise, and two people of the same partition (10 people in 4 partitions, so
    # some partition has 3 of them).
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(30, PEOPLE):
        groups[partition_of(pid(i))].append(i)
    crafted, *beside = next(g for g in groups.values() if len(g) >= 3)[:3]
    held = [death(i, delivery="held") for i in (20, 21, 22, crafted, *beside)]
    held.append(bad_payment(crafted).model_copy(update={"delivery": "held"}))
    for item in held:
        send(names.FACTS, item.model_dump_json().encode(), item.person_id)
    wait_for("the held facts saved", lambda: all(
        facts_of(client, f.person_id).get(f.identity) for f in held))  # fmt: skip

    injected_at = time.monotonic()
    poison: dict[str, tuple[bytes, str, tuple[int, int]]] = {}  # topic -> value, key, position

    def fact(i: int, feed: str = "psb_deaths") -> None:
        send(names.FACTS, death(i, feed).model_dump_json().encode(), pid(i))

    def bad(topic: str, value: bytes, key: str) -> None:
        poison[topic] = (value, key, send(topic, value, key, HEADERS))

    for i in (10, 11, 12):
        fact(i)
    bad(names.FACTS, b'{"delivery_end": ' + DEEP + b"}", pid(12))
    for i in (13, 14):
        fact(i)
    fact(12, "health_deaths")  # after the poison, in its partition

    send(names.ROSTER_CHANGES, enroll(40), pid(40))
    bad(names.ROSTER_CHANGES, DEEP, pid(41))
    for i in (41, 42):
        send(names.ROSTER_CHANGES, enroll(i), pid(i))

    recheck = b'{"person_id": "%s", "trigger": "enrollment"}'
    rechecks = [send(names.RECHECK, recheck % pid(20).encode(), pid(20))]
    bad(names.RECHECK, b"[]", pid(21))
    rechecks.append(send(names.RECHECK, recheck % pid(21).encode(), pid(21)))
    rechecks.append(send(names.RECHECK, recheck % pid(22).encode(), pid(22)))

    (a0,), (a1,), (a2,), (a3,) = (before[pid(i)] for i in range(4))
    send(names.COMMANDS, ack(a0).model_dump_json().encode(), pid(0))
    send(names.COMMANDS, ack(a1).model_dump_json().encode(), pid(1))
    bad(names.COMMANDS, ack(a3).model_dump_json().encode(), pid(3))
    send(names.COMMANDS, ack(a2).model_dump_json().encode(), pid(2))

    def rechecks_read() -> bool:
        saved = progress.saved(client, 4)  # the default partitions (partition_of)
        return all(saved.get((names.RECHECK, p), -1) >= offset for p, offset in rechecks)

    wait_for("the re-checks read, past the poison", rechecks_read)
    waiting = alerts_by_person(env)
    assert [i for i in (20, 21, 22) if waiting.get(pid(i))] == []  # their file is not whole yet
    producer = kafka.producer(bootstrap)
    end_delivery(producer, bootstrap, "held", False, "psb_deaths")
    producer.close()
    send.close()
    ww("wait", "--timeout", "180")  # nothing stuck
    recovery = time.monotonic() - injected_at

    # --- every good message processed -----------------------------------------------------
    now = alerts_by_person(env)
    opened = [*range(10), 10, 11, 12, 13, 14, 20, 21, 22, *beside]
    unreadable = {pid(3)}  # until the fix below
    assert sorted(now) == sorted({pid(i) for i in opened} - unreadable)  # none for `crafted`
    assert {a.status for i in (0, 1, 2) for a in now[pid(i)]} == {"acknowledged"}
    assert sorted(e.feed for e in now[pid(12)][0].evidence) == ["health_deaths", "psb_deaths"]
    assert {now[pid(i)][0].trigger for i in (20, 21, 22)} == {"event"}  # at the end marker
    enrolled = people.fields(client, [pid(40), pid(41), pid(42)], names.PERSON_ENROLLMENTS)
    assert all(enrolled)
    assert set(facts_of(client, pid(crafted))) == {
        f"psb_deaths:T-psb_deaths-{crafted}",
        BAD_PAYMENT,
    }
    assert all(len(now[pid(i)]) == 1 for i in beside)  # evaluated beside them, in their batch

    # --- each poison whole on ww.deadletter, and the person whose evaluation raised ----------
    stored = read_all(bootstrap)
    by_topic = {s.letter.topic: s for s in stored if s.letter.kind == "poison"}
    assert len(stored) == 5 and set(by_topic) == set(poison)
    for topic, (value, key, (partition, offset)) in poison.items():
        letter = by_topic[topic].letter
        assert (letter.key, letter.value, list(letter.headers)) == (key.encode(), value, HEADERS)
        assert (letter.partition, letter.offset) == (partition, offset)
        assert pid(3) not in letter.error and letter.error
    assert by_topic[names.RECHECK].letter.error.startswith("AttributeError")
    assert by_topic[names.FACTS].letter.error.startswith("RecursionError")
    (evaluation,) = [s for s in stored if s.letter.kind == "evaluation"]
    assert (evaluation.letter.topic, evaluation.letter.key) == (
        names.RECHECK,
        pid(crafted).encode(),
    )
    assert json.loads(cast(bytes, evaluation.letter.value))["person_id"] == pid(crafted)
    assert evaluation.letter.error.startswith("InvalidOperation")

    metric = scrape(METRICS_PORT)
    failures = metric("welfare_watch_worker_evaluation_failures_total", error="InvalidOperation")
    assert failures is not None and failures >= 1
    for topic in poison:
        assert metric("welfare_watch_worker_dead_letters_total", topic=topic, kind="poison") == 1
    assert metric("welfare_watch_worker_oldest_unprocessed_batch_age_seconds") == 0

    listed = ww("deadletter", "list")
    assert "5 dead letters" in listed and pid(3) not in listed and pid(crafted) not in listed
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "dead-lettered" in worker_log
    assert not any(pid(i) in worker_log for i in (3, 12, 21, crafted, 41))  # masked in the log

    # --- fix the two curable causes, replay everything waiting --------------------------------
    client.hset(names.person_key(pid(3)), names.PERSON_ALERTS, person3)
    assert [a.status for a in alerts_by_person(env)[pid(3)]] == ["open"]  # its command: poison
    # the operator's fix: the record that no connector would accept, out of the payments ledger
    # (its irregular part: streams.ledger)
    (ledger,) = people.fields(client, [pid(crafted)], names.PERSON_PAYMENTS_REST)
    repaired = json.loads(cast(bytes, ledger))
    repaired["rows"] = [r for r in repaired["rows"] if f"{r[0]}:{r[1]}" != BAD_PAYMENT]
    client.hset(names.person_key(pid(crafted)), names.PERSON_PAYMENTS_REST, json.dumps(repaired))
    replayed = ww("deadletter", "replay", "--all")
    assert "5 replayed" in replayed
    ww("wait", "--timeout", "180")
    now = alerts_by_person(env)
    assert [a.status for a in now[pid(3)]] == ["acknowledged"]
    assert [(a.type, a.status, a.trigger) for a in now[pid(crafted)]] == [
        ("DECEASED_BENEFICIARY", "open", "enrollment")
    ]

    # The three incurable ones failed again: back as repeats, which --all leaves alone.
    wait_for("the repeats", lambda: len(read_all(bootstrap)) == 8)
    shown = rows(read_all(bootstrap), replays(client))
    repeats = [r for r in shown if "failed again after replaying" in r.status]
    assert sorted(r.source.split("/")[0] for r in repeats) == sorted(
        [names.FACTS, names.ROSTER_CHANGES, names.RECHECK]
    )
    assert "0 replayed" in ww("deadletter", "replay", "--all")
    again = subprocess.run(
        [WW, "deadletter", "replay", str(by_topic[names.COMMANDS].id)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert again.returncode == 1 and "was replayed already" in again.stderr
    assert all(  # the repeats are the originals, byte for byte
        DeadLetter.from_record(s.letter.key, s.letter.value, s.letter.record_headers()).headers
        == tuple(HEADERS)
        for s in read_all(bootstrap)
        if s.letter.kind == "poison"
    )

    # --- the row ---------------------------------------------------------------------------------
    latest, duplicated = topic_tally(bootstrap)
    expected = {pid(i) for i in [*opened, crafted]}
    on_topic = {a.person_id for a in latest.values() if a.type == "DECEASED_BENEFICIARY"}
    in_redis = alerts_by_person(env)
    found = sum(1 for p in expected if p in on_topic and len(in_redis.get(p, [])) == 1)
    good_facts = {
        **{pid(i): [f"psb_deaths:GA{i:08d}"] for i in range(10)},
        **{pid(i): [f"psb_deaths:T-psb_deaths-{i}"] for i in (10, 11, 13, 14, 20, 21, 22)},
        pid(crafted): [f"psb_deaths:T-psb_deaths-{crafted}"],
        **{pid(i): [f"psb_deaths:T-psb_deaths-{i}"] for i in beside},
        pid(12): ["psb_deaths:T-psb_deaths-12", "health_deaths:T-health_deaths-12"],
    }
    accepted = sum(len(v) for v in good_facts.values())
    kept = sum(1 for p, want in good_facts.items() for f in want if f in facts_of(client, p))
    report(
        "poison message on each input topic (facts, roster.changes, recheck, commands) "
        "+ a rule raising for one person; 2 cured by replay",
        injected=5,
        expected=len(expected),
        found=found,
        duplicated=duplicated,
        accepted=accepted,
        stored=kept,
        recovery=recovery,
    )
    assert (found, duplicated, kept) == (len(expected), 0, accepted)
