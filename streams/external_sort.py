"""Sorting more lines than memory should hold: sorted runs on disk, merged back in order.

The roster load groups a snapshot's rows per person and compares its people with the store's,
for files of millions of rows and in no particular order, holding one run at a time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Key = Callable[[str], str]

RUN = 50_000  # lines sorted in memory at a time


def _whole(line: str) -> str:
    return line


def spill(lines: Iterable[str], folder: Path, *, key: Key = _whole, run: int = RUN) -> list[Path]:
    """Write `lines` (none containing a newline) to files of at most `run` lines each, every
    file sorted by `key` (stably: equal keys keep their order); returns the files in order.
    Consumes all of `lines` before it returns."""
    folder.mkdir(parents=True, exist_ok=True)
    runs: list[Path] = []
    source = iter(lines)
    while chunk := list(itertools.islice(source, run)):
        chunk.sort(key=key)
        path = folder / f"run-{len(runs):06d}"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(f"{line}\n" for line in chunk)
        runs.append(path)
        del chunk  # the next run is read into fresh memory, not next to this one
    return runs


def merged(runs: Iterable[Path], *, key: Key = _whole) -> Iterator[str]:
    """Every line of the sorted `runs`, in `key` order; lines with equal keys come in the order
    of the runs, then of their lines (so a stable spill merges back stably)."""
    files = [path.open(encoding="utf-8") for path in runs]
    try:
        yield from heapq.merge(*((line[:-1] for line in f) for f in files), key=key)
    finally:
        for f in files:
            f.close()


def grouped(lines: Iterable[str], key: Key) -> Iterator[tuple[str, list[str]]]:
    """Lines sorted by `key` as (key, its lines), one group at a time."""
    for value, group in itertools.groupby(lines, key):
        yield value, list(group)


def merge_diff(
    wanted: Iterable[tuple[str, T]], present: Iterable[str]
) -> Iterator[tuple[str, T | None]]:
    """Both sorted by key: every item of `wanted`, and (key, None) for each key of `present`
    that `wanted` lacks (a key repeated in `present` counts once), all in key order."""
    absent = _distinct(present)
    gone = next(absent, None)
    for key, item in wanted:
        while gone is not None and gone < key:
            yield gone, None
            gone = next(absent, None)
        if gone == key:
            gone = next(absent, None)
        yield key, item
    while gone is not None:
        yield gone, None
        gone = next(absent, None)


def _distinct(keys: Iterable[str]) -> Iterator[str]:
    for key, _ in itertools.groupby(keys):
        yield key
