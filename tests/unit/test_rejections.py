"""dept.rejected: one shape from every way in, an id naming the record, and where it came from."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from connectors.feedspec import load_feeds
from connectors.parse import Rejection, parse_feed, parse_message
from connectors.raw import _unconfigured
from streams.batch import BatchProcessor, Message
from streams.offsets import batch_high_water
from tests.stores import Collected, ProgressOnly, unreachable
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Environment, Settings, load_policy

RECEIVED = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 3, 16, 30, tzinfo=dt.UTC)
FEEDS = load_feeds()
PSB_HEADER = "公民身份号码,姓名,死亡日期,注销日期,业务流水号,状态"
PSB_GOOD = "210105195203140118,杨德福,2025-11-02,2025-11-20,GA2025112000317,正常"
PSB_BAD = "210105195203140113,杨德福,2025-11-02,2025-11-20,GA2025112000318,正常"
SHAPE = {"rejection_id", "feed", "source", "line", "record", "reason", "received_at"}


def rejections(items: Sequence[object]) -> list[Rejection]:
    return [item for item in items if isinstance(item, Rejection)]


def from_file(tmp_path: Path, *rows: str, received_at: dt.datetime = RECEIVED) -> list[Rejection]:
    path = tmp_path / "psb.csv"
    path.write_text("\n".join([PSB_HEADER, *rows, ""]), encoding="utf-8")
    return rejections(list(parse_feed(FEEDS["psb_deaths"], path, received_at, "file:psb.csv")))


def as_object(row: str) -> dict[str, str]:
    return dict(zip(PSB_HEADER.split(","), row.split(","), strict=True))


def test_a_rejection_says_what_it_is_where_it_came_from_and_why(tmp_path: Path) -> None:
    (rejection,) = from_file(tmp_path, PSB_GOOD, PSB_BAD)
    message = json.loads(rejection.as_json(LATER))
    assert set(message) == {*SHAPE, "rejected_at"}
    assert message["feed"] == "psb_deaths"
    assert message["source"] == "file:psb.csv"
    assert message["line"] == 3
    assert message["record"] == as_object(PSB_BAD)  # as it was sent
    assert message["reason"] == "公民身份号码 check character is 3, expected 8"
    times = (message["received_at"], message["rejected_at"])
    assert tuple(map(dt.datetime.fromisoformat, times)) == (RECEIVED, LATER)
    assert len(message["rejection_id"]) == 20
    assert int(message["rejection_id"], 16) >= 0


def test_the_same_bad_record_has_the_same_id_whichever_way_and_whenever_it_comes(
    tmp_path: Path,
) -> None:
    (by_file,) = from_file(tmp_path, PSB_GOOD, PSB_BAD)
    (again,) = from_file(tmp_path, PSB_BAD, received_at=LATER)  # another day, another line
    body = json.dumps(as_object(PSB_BAD), ensure_ascii=False).encode()
    (by_request,) = rejections(
        list(parse_feed(FEEDS["psb_deaths"], io.BytesIO(body), LATER, "http:7f3a"))
    )
    by_kafka = parse_message(FEEDS["psb_deaths"], body, LATER, "kafka:dept.psb_deaths.raw/0/9")
    assert isinstance(by_kafka, Rejection)

    found = [by_file, again, by_request, by_kafka]
    assert {r.source for r in found} == {
        "file:psb.csv",
        "http:7f3a",
        "kafka:dept.psb_deaths.raw/0/9",
    }
    assert len({r.rejection_id for r in found}) == 1
    assert len({json.loads(r.as_json(LATER))["rejection_id"] for r in found}) == 1


def test_a_different_record_or_feed_has_a_different_id(tmp_path: Path) -> None:
    other = PSB_BAD.replace("GA2025112000318", "GA2025112000319")
    first, second = from_file(tmp_path, PSB_BAD, other)
    assert first.rejection_id != second.rejection_id
    elsewhere = first.model_copy(update={"feed": "health_deaths"})
    nowhere = first.model_copy(update={"feed": None})
    assert len({first.rejection_id, elsewhere.rejection_id, nowhere.rejection_id}) == 3


def test_a_record_for_a_feed_nobody_configured_says_so_in_the_same_shape() -> None:
    source = "kafka:dept.nobody.raw/0/4"
    rejection = _unconfigured("nobody", source, b'{"x": "1"}', RECEIVED)
    message = json.loads(rejection.as_json(LATER))
    assert set(message) == {*SHAPE, "rejected_at"}
    assert (message["feed"], message["source"]) == ("nobody", source)
    assert message["record"] == {"message": '{"x": "1"}'}


# --- The worker's own rejections: inputs it cannot read ----------------------------------------


def process(messages: list[Message], registry: CollectorRegistry) -> list[dict[str, object]]:
    """The rejections a batch of unreadable messages through the worker publishes."""
    published = Collected()
    settings = Settings(Environment(), load_policy())
    store = ProgressOnly(unreachable())

    async def run() -> None:
        try:
            processor = BatchProcessor(store, published, settings, Metrics(registry), lambda: LATER)
            await processor.process(messages)
        finally:
            await store._redis.aclose()

    asyncio.run(run())
    assert published.alerts == [] and published.rechecks == []
    # a rejected message is done with: the input's progress moves past it
    read = [(m.topic, m.partition, m.offset) for m in messages if m.offset is not None]
    assert store.progress == batch_high_water(read)
    return [json.loads(item.as_json(LATER)) for item in published.rejected]


BAD_ENROLL = b'{"op": "enroll", "person_id": "210105195203140119"}'


def test_an_unreadable_roster_change_belongs_to_no_feed_and_names_its_topic_and_offset() -> None:
    registry = CollectorRegistry()
    (message,) = process([Message(names.ROSTER_CHANGES, BAD_ENROLL, 2, 17)], registry)
    assert set(message) == {*SHAPE, "rejected_at"}
    assert message["feed"] is None
    assert message["source"] == "roster.changes/2/17"
    assert message["record"] == {"message": BAD_ENROLL.decode()}
    assert "check character" in str(message["reason"])
    labels = {"topic": names.ROSTER_CHANGES}
    assert registry.get_sample_value("welfare_watch_worker_rejected_total", labels) == 1


def test_a_bad_fact_message_names_its_feed_when_it_says_one() -> None:
    named = json.dumps({"feed": "psb_deaths", "person_id": "210105195203140118"}).encode()
    unnamed = json.dumps({"feed": "210105195203140118"}).encode()  # not a feed name: no feed
    registry = CollectorRegistry()
    found = process(
        [
            Message(names.FACTS, named, 0, 5),
            Message(names.FACTS, unnamed, 1, 6),
            Message(names.FACTS, b"\xff not json", 1, 7),
            Message(names.RECHECK, b"{}", 0, 8),
        ],
        registry,
    )
    assert [(m["feed"], m["source"]) for m in found] == [
        ("psb_deaths", "ww.facts/0/5"),
        (None, "ww.facts/1/6"),
        (None, "ww.facts/1/7"),
        (None, "ww.recheck/0/8"),
    ]
    assert found[2]["record"] == {"message": "\ufffd not json"}
    labels = {"topic": names.FACTS}
    assert registry.get_sample_value("welfare_watch_worker_rejected_total", labels) == 3


def test_the_same_unreadable_message_read_again_has_the_same_id() -> None:
    first, again = process(
        [
            Message(names.ROSTER_CHANGES, BAD_ENROLL, 2, 17),
            Message(names.ROSTER_CHANGES, BAD_ENROLL, 0, 90),  # sent twice
        ],
        CollectorRegistry(),
    )
    assert first["source"] != again["source"]
    assert first["rejection_id"] == again["rejection_id"]
    (other,) = process([Message(names.ROSTER_CHANGES, b"[]", 2, 18)], CollectorRegistry())
    assert other["rejection_id"] != first["rejection_id"]


def test_a_message_not_keyed_by_its_person_is_rejected_with_the_reason() -> None:
    """It may sit in another partition than the person's other messages, where another
    worker would write the same person."""
    pid = "210105195203140118"
    change = b'{"op": "suspend", "person_id": "%s", "program": "tekun"}' % pid.encode()
    (keyless,) = process([Message(names.ROSTER_CHANGES, change, 1, 30)], CollectorRegistry())
    (other,) = process(
        [Message(names.ROSTER_CHANGES, change, 1, 31, b"210105195203140100")], CollectorRegistry()
    )
    for message in (keyless, other):
        assert "the message key is not its person_id" in str(message["reason"])
        assert pid not in str(message["reason"])  # the record carries it; the reason does not
