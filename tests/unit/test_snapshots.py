"""The pure part of judging households once a roster snapshot has reached all of them."""

from __future__ import annotations

import json

from connectors.delivery import SNAPSHOT_FEED, DeliveryEnd
from streams.snapshots import (
    WAITING_ORDER,
    SnapshotProgress,
    still_open,
    stuck,
    waited_for,
    waiting_delivery,
    whole_markers,
)


def test_a_waiting_set_names_its_snapshot_and_trigger() -> None:
    for trigger in WAITING_ORDER:
        assert waited_for(waiting_delivery("snap/1", trigger)) == ("snap/1", trigger)
    assert waited_for("3f2a9c") is None  # a department's delivery
    assert waited_for("snap/waits/nonsense") is None


def test_progress_reads_what_the_store_s_scripts_write() -> None:
    fresh = SnapshotProgress.decode(b"S", json.dumps({"seen": 5.5, "ended": {}}))  # cjson's []
    assert (fresh.snapshot, fresh.seen, fresh.ended, fresh.whole) == ("S", 5.5, frozenset(), None)
    done = SnapshotProgress.decode("S", b'{"seen": 9, "ended": [2, 0, 1], "whole": 9}')
    assert (done.ended, done.whole) == (frozenset({0, 1, 2}), 9)


def test_a_snapshot_is_open_until_every_partition_has_ended_it() -> None:
    known = [
        SnapshotProgress("half", 2.0, frozenset({0, 1})),
        SnapshotProgress("done", 1.0, frozenset({0, 1, 2, 3}), whole=3.0),
        SnapshotProgress("begun", 1.0),
    ]
    assert still_open(known, {}, 4) == ["begun", "half"]
    # a batch that ends it in its last partitions judges households at once
    assert still_open(known, {"half": {2, 3}}, 4) == ["begun"]
    assert still_open(known, {"half": {2}}, 4) == ["begun", "half"]


def test_a_quiet_open_snapshot_is_stuck_in_the_partitions_that_have_not_ended_it() -> None:
    known = [
        SnapshotProgress("quiet", 100.0, frozenset({1})),
        SnapshotProgress("busy", 109.0),
        SnapshotProgress("whole", 50.0, frozenset({0, 1, 2}), whole=50.0),
    ]
    assert stuck(known, 3, now=110.0, after=5.0) == [("quiet", [0, 2])]


def test_whole_markers_end_the_waiting_sets_on_every_partition() -> None:
    markers = whole_markers("S", 3)
    assert [p for p, _ in markers] == [0, 1, 2]
    ends = [DeliveryEnd.decode(value, p) for p, value in markers]
    assert {(e.feed, e.abandoned) for e in ends} == {(SNAPSHOT_FEED, False)}
    assert {waited_for(e.delivery) for e in ends} == {("S", WAITING_ORDER[0])}
