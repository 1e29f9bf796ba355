"""The worker's garbage collector settings (streams/worker.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.worker import GC_THRESHOLDS, tune_gc


@pytest.fixture()
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_worker_collects_less_often_and_never_scans_its_start_up(restored: None) -> None:
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # Python's default, which collects every few events
    assert gc.get_freeze_count() > 0
