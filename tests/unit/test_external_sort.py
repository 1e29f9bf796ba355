"""The roster load's external sort: sorted runs on disk, merged back, diffed with the store."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from streams.external_sort import grouped, merge_diff, merged, spill


def _person(line: str) -> str:
    return line.partition("\t")[0]


@pytest.mark.parametrize("run", [1, 2, 3, 7, 1000])
def test_runs_merge_back_sorted_and_stable_whatever_their_size(tmp_path: Path, run: int) -> None:
    rng = random.Random(run)
    lines = [f"{rng.randrange(20):02d}\trow{i}" for i in range(100)]  # rows numbered in order

    runs = spill(lines, tmp_path, key=_person, run=run)
    back = list(merged(runs, key=_person))

    assert len(runs) == -(-len(lines) // run)  # no run holds more than `run` lines
    assert back == sorted(lines, key=_person)  # Python's sort is stable: file order kept


def test_nothing_spilled_merges_to_nothing(tmp_path: Path) -> None:
    assert spill([], tmp_path) == []
    assert list(merged([])) == []


def test_rows_come_back_grouped_per_person_in_file_order(tmp_path: Path) -> None:
    lines = ["b\t1", "a\t2", "c\t3", "a\t4", "b\t5", "a\t6"]

    people = list(grouped(merged(spill(lines, tmp_path, key=_person, run=2), key=_person), _person))

    assert people == [("a", ["a\t2", "a\t4", "a\t6"]), ("b", ["b\t1", "b\t5"]), ("c", ["c\t3"])]


@pytest.mark.parametrize(
    ("snapshot", "store", "expected"),
    [
        ([], [], []),
        (["a", "b"], [], [("a", "a"), ("b", "b")]),
        ([], ["a", "b"], [("a", None), ("b", None)]),  # an empty snapshot removes everyone
        (["b", "d"], ["a", "b", "c", "d", "e"], [("a", None), ("b", "b"), ("c", None),
                                                 ("d", "d"), ("e", None)]),
        (["a", "c"], ["b"], [("a", "a"), ("b", None), ("c", "c")]),
        (["a"], ["a", "a", "b", "b"], [("a", "a"), ("b", None)]),  # a store id seen twice
        (["a", "b"], ["a", "b"], [("a", "a"), ("b", "b")]),  # nobody left the roster
    ],
)  # fmt: skip
def test_merge_diff_keeps_the_snapshot_and_removes_whom_it_lacks(
    snapshot: list[str], store: list[str], expected: list[tuple[str, str | None]]
) -> None:
    assert list(merge_diff(((p, p) for p in snapshot), iter(store))) == expected


def test_the_store_s_people_sorted_on_disk_diff_like_in_memory(tmp_path: Path) -> None:
    rng = random.Random(7)
    snapshot = sorted(rng.sample(range(10_000), 3000))
    store = rng.sample(range(10_000), 4000) * 2  # in no order, some seen twice (HSCAN may)
    ids = [f"{i:05d}" for i in store]

    diff = merge_diff(((f"{i:05d}", i) for i in snapshot), merged(spill(ids, tmp_path, run=500)))

    removed = [pid for pid, item in diff if item is None]
    assert removed == sorted({f"{i:05d}" for i in store} - {f"{i:05d}" for i in snapshot})
