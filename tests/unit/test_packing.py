"""The stored form of a person's long fields (welfare_watch.packing)."""

from __future__ import annotations

import json
import zlib

from bench import limits
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


def test_one_enrollment_too_short_to_repeat_itself_compresses_from_the_dictionary() -> None:
    enrollment = [{"person_id": "210105195203140118", "name": "测试", "program": "dibao_urban",
                   "household_id": "HH-210105-0001", "role": "head", "district_code": "210105",
                   "community": "华山社区", "caseworker_id": "cw-210105-01",
                   "monthly_amount": "1230.00", "start_date": "2020-01-01", "status": "active",
                   "changed_at": "2026-11-28T09:00:00Z"}]  # fmt: skip
    text = json.dumps(enrollment, ensure_ascii=False, separators=(",", ":")).encode()
    stored = pack(text)
    assert len(stored) < len(text) / 2
    assert unpack(stored) == text


def test_a_value_compressed_before_the_dictionary_still_reads() -> None:
    text = json.dumps({"k": "v" * PACK_FROM}).encode()
    assert unpack(zlib.compress(text, 1)) == text


def test_the_benchmark_s_raw_limit_decodes_what_the_store_packed() -> None:
    value = {"payments:1": {"feed": "payments", "amount": "1480.00"}, "k": "v" * PACK_FROM}
    assert limits._decode(pack(json.dumps(value).encode())) == value
