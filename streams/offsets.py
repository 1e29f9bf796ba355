"""Progress kept in the store, not in Kafka's commit (issue 9, item 4).

Redis writes its append-only file once a second, Kafka commits the worker's offsets twice a
second: a Redis crash can lose saves whose input Kafka already counts as done. So the store is
the source of truth for progress:

- each person's save records, in the same transaction as their state, the highest offset of each
  input topic it covers; a message at or below it is skipped for that person (a redelivery after a
  crash changes nothing: not even a roster change that a later one had overridden);
- each save also records, per input partition, the offset up to which every message is saved
  (or dead-lettered); when the worker is handed a batch that starts past that point (Kafka's
  commit got ahead of what Redis kept), or finds the store behind what it processed itself
  (Redis came back without its last writes), it first reads the missing range back from Kafka
  (streams/catchup.py), so Kafka's commit is only a hint.

The names a person's offsets use are `names.input_label(topic, partition)`. This module is the
pure part; the store (streams/store.py) reads and writes the offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Gap:
    """Offsets [start, end) of one input partition that the store does not cover."""

    topic: str
    partition: int
    start: int
    end: int


def gaps(batch: Iterable[tuple[str, int, int]], saved: Mapping[TopicPartition, int]) -> list[Gap]:
    """For each (topic, partition) in the batch, the range between what the store covers
    (`saved`: the last offset saved, absent = nothing known) and the batch's first offset."""
    first: dict[TopicPartition, int] = {}
    for topic, partition, offset in batch:
        tp = (topic, partition)
        first[tp] = min(offset, first.get(tp, offset))
    found = []
    for (topic, partition), start in sorted(first.items()):
        last = saved.get((topic, partition))
        if last is not None and start > last + 1:
            found.append(Gap(topic, partition, last + 1, start))
    return found


def covered(person_offsets: Mapping[str, int], label: str, offset: int | None) -> bool:
    """Whether this person's saved state already includes the message at `offset` of the input
    partition `label`."""
    if offset is None:
        return False
    last = person_offsets.get(label)
    return last is not None and offset <= last


def advanced(
    current: Mapping[str, int], messages: Iterable[tuple[str, int | None]]
) -> dict[str, int]:
    """A person's offsets after the messages (label, offset) that concern them."""
    result = dict(current)
    for topic, offset in messages:
        if offset is not None and offset > result.get(topic, -1):
            result[topic] = offset
    return result


def behind(
    processed: Mapping[TopicPartition, int], saved: Mapping[TopicPartition, int]
) -> list[Gap]:
    """What the store lost of what this worker processed (and saw saved): for each partition
    whose saved progress is below the last offset processed, the range in between."""
    return [
        Gap(topic, partition, saved[(topic, partition)] + 1, last + 1)
        for (topic, partition), last in sorted(processed.items())
        if (topic, partition) in saved and saved[(topic, partition)] < last
    ]


def batch_high_water(batch: Iterable[tuple[str, int, int]]) -> dict[TopicPartition, int]:
    """The last offset of each (topic, partition) in the batch."""
    high: dict[TopicPartition, int] = {}
    for topic, partition, offset in batch:
        tp = (topic, partition)
        high[tp] = max(offset, high.get(tp, offset))
    return high
