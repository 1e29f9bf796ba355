"""The stored form of a person's long fields (welfare_watch.packing)."""

from __future__ import annotations

import json

from welfare_watch.packing import PACK_FROM, pack, unpack


def test_a_long_value_is_compressed_and_reads_back_the_same() -> None:
    payments = {f"payments:{i}": {"feed": "payments", "amount": "1480.00"} for i in range(12)}
    text = json.dumps(payments).encode()
    stored = pack(text)
    assert len(stored) < len(text) / 4
    assert unpack(stored) == text


def test_a_short_value_is_kept_as_it_is() -> None:
    text = b'{"a": 1}'
    assert len(text) < PACK_FROM
    assert pack(text) == text
    assert unpack(text) == text


def test_plain_json_written_before_or_by_hand_still_reads() -> None:
    text = json.dumps({"k": "v" * PACK_FROM}).encode()
    assert unpack(text) == text
    assert unpack(b"[1, 2]") == b"[1, 2]"
