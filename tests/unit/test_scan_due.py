"""When the daily scan is due: once a day, after its time, and after a worker was down."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.scan import scan_due

TODAY = dt.date(2026, 11, 28)
AT = dt.time(2, 0)


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        pytest.param(dt.date(2026, 11, 27), dt.time(2, 0), True, id="its time today"),
        pytest.param(dt.date(2026, 11, 27), dt.time(1, 59), False, id="not yet"),
        pytest.param(TODAY, dt.time(2, 1), False, id="already ran today"),
        pytest.param(None, dt.time(9, 0), True, id="never ran"),
        pytest.param(dt.date(2026, 11, 20), dt.time(15, 0), True, id="worker was down: catch up"),
    ],
)
def test_scan_due(last: dt.date | None, now: dt.time, due: bool) -> None:
    assert scan_due(last, TODAY, now, AT) is due
