"""Property: whatever a department sends, the connector never crashes and nothing is lost."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import NotATable
from connectors.feedspec import load_feeds
from connectors.parse import parse_feed
from welfare_watch.models import Fact

FEEDS = load_feeds()
AT = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
NAMES = sorted(FEEDS)

# Cells that look like what departments send, and worse: ID-like digits, dates in odd
# forms, Chinese words, full-width spaces, quotes, commas, line breaks, stray bytes.
cells = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9]{17}[0-9xX]", fullmatch=True),
    st.sampled_from(["2026-02-30", "2025/11/02", "20251102", "2025-11-02 06:40", "2026-13"]),
    st.sampled_from(["正常", "撤销", "迁出", "入监", "注册", "作废", "　", '"', ",", "\n", "-1"]),
)
# Rows with any number of cells: too few, too many, or just right.
rows = st.lists(st.lists(cells.filter(lambda c: "\x00" not in c), max_size=9), max_size=25)


def csv_bytes(header: list[str], body: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode("utf-8")


def counted(items: Sequence[object]) -> tuple[int, int]:
    accepted = sum(1 for i in items if isinstance(i, Fact))
    return accepted, len(items) - accepted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed=st.sampled_from(NAMES), body=rows)
def test_malformed_csv_rows_never_crash_and_counts_add_up(feed: str, body: list[list[str]]) -> None:
    spec = FEEDS[feed]
    header = list(spec.required_columns)
    data = csv_bytes(header, body)
    items = list(parse_feed(spec, io.BytesIO(data), AT, "prop.csv"))
    # Every record is answered, a fact or a rejection with a reason; only a line holding
    # nothing but whitespace is not a record.
    lines = list(csv.reader(io.StringIO(data.decode())))[1:]
    records = sum(1 for row in lines if row and not (len(row) == 1 and not row[0].strip()))
    accepted, rejected = counted(items)
    assert accepted + rejected == records
    assert all(getattr(i, "reason", "x") for i in items)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    feed=st.sampled_from(NAMES),
    lines=st.lists(
        st.one_of(
            st.dictionaries(st.text(max_size=8), cells, max_size=6).map(
                lambda d: json.dumps(d, ensure_ascii=False)
            ),
            st.text(max_size=40).filter(
                lambda t: "\n" not in t and "\r" not in t and "\x00" not in t
            ),
        ),
        max_size=25,
    ),
)
def test_malformed_json_lines_never_crash_and_counts_add_up(feed: str, lines: list[str]) -> None:
    spec = FEEDS[feed]
    first = json.dumps({c: "" for c in spec.required_columns}, ensure_ascii=False)
    body = "\n".join([first, *lines]).encode("utf-8")
    try:
        items = list(parse_feed(spec, io.BytesIO(body), AT, "prop.jsonl", fmt="jsonl"))
    except NotATable:
        return  # a whole body that is not a table fails as a whole, with a message
    records = sum(1 for line in [first, *lines] if line.strip())
    accepted, rejected = counted(items)
    assert accepted + rejected == records


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_a_table_or_fail_as_a_whole(data: bytes) -> None:
    spec = FEEDS["psb_deaths"]
    header = ",".join(spec.required_columns).encode() + b"\n"
    try:
        items = list(parse_feed(spec, io.BytesIO(header + data), AT, "bytes.csv"))
    except NotATable:
        return
    assert all(isinstance(i, Fact) or i.reason for i in items)
