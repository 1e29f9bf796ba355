"""What a connector puts on ww.facts is what Fact.model_dump_json() would, byte for byte, and a
record without a serial keeps the id it always had: both are now made without the slow path."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from connectors.records import RECORD_HASH_CHARS, Origin, Record, record_hash
from connectors.wire import MATCHES_MODEL, FactEncoder
from welfare_watch.models import Fact, FactKind

# Any text a department may send, control characters and astral planes included (lone
# surrogates are no text: a line with undecodable bytes is rejected before this).
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
ZONES = st.none() | st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-3))]
)
KINDS: list[FactKind] = ["death", "vehicle", "payment", "survival_check"]


@st.composite
def origins(draw: st.DrawFn) -> Origin:
    moment = draw(st.datetimes(min_value=dt.datetime(1990, 1, 1))).replace(tzinfo=draw(ZONES))
    return Origin(draw(TEXT), draw(st.sampled_from(KINDS)), moment, draw(TEXT))


@st.composite
def records(draw: st.DrawFn, origin: Origin) -> Record:
    return Record(
        origin,
        draw(TEXT),
        draw(TEXT),
        draw(TEXT),
        draw(st.none() | st.dates()),
        draw(st.dictionaries(TEXT, TEXT, max_size=4)),
    )


def model_bytes(record: Record, delivery: str) -> bytes:
    """What the sink sent before: the Fact, tagged with the delivery, dumped by its model."""
    fact = record.fact().model_copy(update={"delivery": delivery})
    return fact.model_dump_json().encode()


def test_the_encoder_knows_every_field_of_fact() -> None:
    assert MATCHES_MODEL  # else it falls back to the model, and this file says so first


@given(st.data(), st.lists(origins(), min_size=1, max_size=3), TEXT)
def test_records_encode_as_the_model_dumps_them(
    data: st.DataObject, shared: list[Origin], delivery: str
) -> None:
    encoder = FactEncoder(delivery)
    for origin in shared:  # a new origin in the middle of a delivery is serialised afresh
        for record in data.draw(st.lists(records(origin), min_size=1, max_size=3)):
            encoded = encoder.record(record)
            assert encoded == model_bytes(record, delivery)
            assert encoder.fact(record.fact()) == encoded


def test_the_same_instant_in_another_zone_is_not_taken_for_the_last_one() -> None:
    at = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    utc = Origin("psb_deaths", "death", at, "file:a.csv")
    beijing = Origin("psb_deaths", "death", at.astimezone(dt.timezone(dt.timedelta(hours=8))),
                     "file:a.csv")  # fmt: skip
    assert utc == beijing  # equal instants: the encoder must look at the offset too
    encoder = FactEncoder("d1")
    for origin in (utc, beijing, utc):
        record = Record(origin, "r1", "210105195203140118", "王五", None, {})
        assert encoder.fact(record.fact()) == model_bytes(record, "d1")


def test_an_encoded_fact_is_read_back_whole() -> None:
    at = dt.datetime(2026, 11, 28, 8, 0, 1, 250, tzinfo=dt.UTC)
    attrs = {"plate": '辽A\\"1', "status": "registered"}  # escapes, as the model writes them
    origin = Origin("vehicles", "vehicle", at, "http:1")
    record = Record(origin, "abc", "210105195203140118", "张三", dt.date(2024, 5, 1), attrs)
    fact = Fact.model_validate_json(FactEncoder("d7").record(record))
    assert fact == record.fact().model_copy(update={"delivery": "d7"})


def reference_hash(
    person_id: str, name: str, event_date: dt.date | None, attrs: dict[str, str]
) -> str:
    """The id as it has always been made: records already stored carry it."""
    canonical = {
        "person_id": person_id,
        "name": name,
        "event_date": event_date.isoformat() if event_date else None,
        "attrs": dict(sorted(attrs.items())),
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RECORD_HASH_CHARS]


@given(TEXT, TEXT, st.none() | st.dates(), st.dictionaries(TEXT, TEXT, max_size=5))
def test_a_record_without_a_serial_keeps_its_id(
    person_id: str, name: str, event_date: dt.date | None, attrs: dict[str, str]
) -> None:
    assert record_hash(person_id, name, event_date, attrs) == reference_hash(
        person_id, name, event_date, attrs
    )


def test_a_known_record_keeps_its_known_id() -> None:
    attrs = {"plate": "辽A0000001", "vehicle_type": "小型汽车", "status": "registered"}
    got = record_hash("210105194001110003", "张三", dt.date(2024, 5, 1), attrs)
    assert got == "8410bb5371b4847f479f"  # made by the json.dumps of the code before
