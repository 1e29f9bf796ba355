"""The worker's inputs must be co-partitioned, and each message keyed by its person."""

from __future__ import annotations

from welfare_watch import names
from welfare_watch.kafka import co_partitioning_error


def test_inputs_with_the_configured_partition_count_can_be_joined() -> None:
    counts = dict.fromkeys(names.WORKER_INPUTS, 6)
    assert co_partitioning_error(counts, 6) is None


def test_a_topic_with_another_count_stops_the_worker_with_one_line_naming_it() -> None:
    counts = dict.fromkeys(names.WORKER_INPUTS, 6) | {names.RECHECK: 4}
    problem = co_partitioning_error(counts, 6)
    assert problem is not None and "\n" not in problem
    assert "ww.recheck=4" in problem
    assert "[worker] partitions = 6" in problem
    assert "ww.facts" not in problem
