"""Progress in the store: what a person's state covers, and what the store lacks."""

from __future__ import annotations

import pytest

from streams.offsets import Gap, advanced, batch_high_water, behind, covered, gaps


@pytest.mark.parametrize(
    ("batch", "saved", "expected"),
    [
        pytest.param([("ww.facts", 0, 10)], {}, [], id="nothing known: no gap"),
        pytest.param([("ww.facts", 0, 10)], {("ww.facts", 0): 9}, [], id="continues"),
        pytest.param([("ww.facts", 0, 10)], {("ww.facts", 0): 12}, [], id="redelivered"),
        pytest.param(
            [("ww.facts", 0, 15), ("ww.facts", 0, 12)],
            {("ww.facts", 0): 9},
            [Gap("ww.facts", 0, 10, 12)],
            id="Kafka's commit got ahead of the store",
        ),
        pytest.param(
            [("ww.facts", 1, 5), ("roster.changes", 1, 3)],
            {("ww.facts", 1): 1, ("roster.changes", 1): 2},
            [Gap("ww.facts", 1, 2, 5)],
            id="per topic and partition",
        ),
    ],
)
def test_gaps(
    batch: list[tuple[str, int, int]], saved: dict[tuple[str, int], int], expected: list[Gap]
) -> None:
    assert gaps(batch, saved) == expected


def test_a_person_s_offsets_cover_what_was_saved_and_nothing_after() -> None:
    offsets = advanced({}, [("ww.facts", 4), ("roster.changes", 2), ("ww.facts", 3), ("x", None)])
    assert offsets == {"ww.facts": 4, "roster.changes": 2}
    assert covered(offsets, "ww.facts", 4)
    assert not covered(offsets, "ww.facts", 5)
    assert not covered(offsets, "ww.recheck", 0)
    assert not covered(offsets, "ww.facts", None)


def test_batch_high_water() -> None:
    batch = [("ww.facts", 0, 3), ("ww.facts", 0, 7), ("ww.facts", 1, 2)]
    assert batch_high_water(batch) == {("ww.facts", 0): 7, ("ww.facts", 1): 2}


def test_behind_is_what_the_store_lost_of_what_was_processed() -> None:
    processed = {("ww.facts", 0): 9, ("ww.facts", 1): 4, ("ww.recheck", 0): 3}
    saved = {("ww.facts", 0): 6, ("ww.facts", 1): 4}  # ww.recheck/0: the store never saw it
    assert behind(processed, saved) == [Gap("ww.facts", 0, 7, 10)]
