"""The audit chain's pure half: hashing, linking, and finding the first broken entry."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from alerts.audit_chain import (
    Break,
    Draft,
    Entry,
    KafkaCopy,
    entry_hash,
    link,
    verify_all,
    verify_chain,
    worker_chain,
)

NOW = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)
CHAIN = "web"


def drafts(n: int) -> list[Draft]:
    return [
        Draft(
            actor=f"cw-210105-0{i % 3}",
            role="caseworker",
            token_id=f"jti{i}",
            action="viewed",
            target=f"deceased_beneficiary-{i:016x}",
            detail={"type": "DECEASED_BENEFICIARY", "n": i},
        )
        for i in range(n)
    ]


def chain(n: int = 5) -> list[Entry]:
    return link(CHAIN, None, drafts(n), NOW)


def stored(entries: list[Entry]) -> list[bytes]:
    return [e.encode() for e in entries]


def copy_of(entries: list[Entry], complete: bool = True) -> KafkaCopy:
    copy = KafkaCopy(complete=complete)
    for entry in entries:
        copy.add(entry)
    return copy


# --- hashing and linking -------------------------------------------------------------------


def test_the_hash_covers_every_field_but_itself_and_ignores_key_order() -> None:
    entry = chain(1)[0].model_dump()
    assert entry_hash(entry) == entry["hash"]
    assert entry_hash(dict(reversed(list(entry.items())))) == entry["hash"]
    assert entry_hash({**entry, "hash": "anything"}) == entry["hash"]
    for name, other in [
        ("chain", "cli"),
        ("seq", 1),
        ("at", "2026-11-28T09:30:00.000001+00:00"),
        ("actor", "cw-210105-09"),
        ("role", "supervisor"),
        ("token_id", "other"),
        ("action", "exported"),
        ("target", "x"),
        ("detail", {"n": 1}),
        ("prev", "0" * 64),
    ]:
        assert entry_hash({**entry, name: other}) != entry["hash"], name


def test_entries_link_to_the_one_before_and_number_on_from_the_head() -> None:
    first = chain(3)
    assert [e.seq for e in first] == [0, 1, 2]
    assert first[0].prev == ""
    assert [e.prev for e in first[1:]] == [e.hash for e in first[:-1]]
    more = link(CHAIN, first[-1], drafts(2), NOW)
    assert [e.seq for e in more] == [3, 4]
    assert more[0].prev == first[-1].hash
    assert verify_chain(CHAIN, stored(first + more), copy_of(first + more)) is None


def test_an_entry_is_stored_as_canonical_json_and_reads_back_equal() -> None:
    entry = link(
        CHAIN, None, [Draft(actor="a", action="viewed", detail={"b": 1.5, "a": "甲"})], NOW
    )
    raw = entry[0].encode()
    assert (
        raw
        == json.dumps(
            entry[0].model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert Entry.decode(raw) == entry[0]
    assert entry[0].at == "2026-11-28T09:30:00.000000+00:00"


def test_id_numbers_never_reach_an_entry() -> None:
    draft = Draft(
        actor="cli",
        action="viewed",
        target="/api/alerts/210105195203140118",
        detail={"q": "210105195203140118", "nested": ["x 21010519520314011X y"]},
    )
    [entry] = link(CHAIN, None, [draft], NOW)
    raw = entry.encode().decode()
    assert "195203140118" not in raw and "19520314011X" not in raw
    assert entry.target == "/api/alerts/210105********0118"


@pytest.mark.parametrize(
    ("draft", "says"),
    [
        (Draft(actor="a", action="viewed", at=dt.datetime(2026, 1, 1)), "time zone"),
        (Draft(actor="a", action="exported", detail={"big": "x" * 5000}), "4096 bytes"),
        (Draft(actor="a", action="viewed", detail={"n": float("nan")}), "Out of range"),
    ],
)
def test_a_bad_draft_is_refused(draft: Draft, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        link(CHAIN, None, [draft], NOW)


# --- verification: each tamper case ----------------------------------------------------------


def _edit_detail(entries: list[Entry]) -> list[bytes]:
    raw = stored(entries)
    raw[2] = raw[2].replace(b'"n":2', b'"n":7')
    return raw


def _edit_and_rehash(entries: list[Entry]) -> list[bytes]:
    fields = {**entries[2].model_dump(), "action": "listed"}
    fields["hash"] = entry_hash(fields)
    raw = stored(entries)
    raw[2] = Entry(**fields).encode()
    return raw


def _delete(position: int) -> Callable[[list[Entry]], list[bytes]]:
    return lambda entries: [r for i, r in enumerate(stored(entries)) if i != position]


def _swap(entries: list[Entry]) -> list[bytes]:
    raw = stored(entries)
    raw[1], raw[2] = raw[2], raw[1]
    return raw


def _garble(entries: list[Entry]) -> list[bytes]:
    raw = stored(entries)
    raw[3] = b"{not json"
    return raw


def _foreign(entries: list[Entry]) -> list[bytes]:
    other = link("cli", None, drafts(2), NOW)
    return [*stored(entries[:1]), other[1].encode(), *stored(entries[2:])]


@pytest.mark.parametrize(
    ("tamper", "seq", "why"),
    [
        pytest.param(_edit_detail, 2, "hash does not match its content", id="edited"),
        pytest.param(_edit_and_rehash, 2, "differs from its copy in Kafka", id="edited+rehashed"),
        pytest.param(_delete(2), 2, "found seq 3 in its place", id="middle deleted"),
        pytest.param(_delete(0), 0, "found seq 1 in its place", id="first deleted"),
        pytest.param(_delete(4), 4, "missing from Redis: the copy in Kafka", id="last deleted"),
        pytest.param(lambda e: [], 0, "missing from Redis", id="emptied"),
        pytest.param(_swap, 1, "found seq 2 in its place", id="reordered"),
        pytest.param(_garble, 3, "not a well-formed audit entry", id="garbled"),
        pytest.param(_foreign, 1, "belongs to chain 'cli'", id="from another chain"),
    ],
)
def test_the_first_broken_entry_is_found(
    tamper: Callable[[list[Entry]], list[bytes]], seq: int, why: str
) -> None:
    entries = chain(5)
    found = verify_chain(CHAIN, tamper(entries), copy_of(entries))
    assert found is not None
    assert (found.chain, found.seq) == (CHAIN, seq)
    assert why in found.why


def test_a_rewritten_tail_with_valid_hashes_and_links_is_caught_by_kafka() -> None:
    """Someone who rewrites an entry and re-links everything after it keeps the chain
    consistent in itself: only the copy outside Redis gives it away."""
    entries = chain(5)
    changed = [drafts(5)[2].model_copy(update={"action": "listed"}), *drafts(5)[3:]]
    tampered = [*entries[:2], *link(CHAIN, entries[1], changed, NOW)]
    assert verify_chain(CHAIN, stored(tampered), copy_of(tampered)) is None
    found = verify_chain(CHAIN, stored(tampered), copy_of(entries))
    assert found == Break(CHAIN, 2, "it differs from its copy in Kafka")


def test_without_its_kafka_copy_an_entry_is_reported_unpublished() -> None:
    entries = chain(4)
    found = verify_chain(CHAIN, stored(entries), copy_of(entries[:3]))
    assert found is not None and (found.seq, found.unpublished) == (3, True)


def test_entries_older_than_the_retained_kafka_copy_are_not_required() -> None:
    entries = chain(5)
    assert verify_chain(CHAIN, stored(entries), copy_of(entries[3:], complete=False)) is None
    assert verify_chain(CHAIN, stored(entries), copy_of(entries[3:], complete=True)) is not None
    # retention never excuses a missing head
    found = verify_chain(CHAIN, stored(entries[:4]), copy_of(entries[3:], complete=False))
    assert found is not None and found.seq == 4


def test_two_different_entries_published_at_one_seq_is_a_fork() -> None:
    entries = chain(3)
    copy = copy_of(entries)
    copy.add(link(CHAIN, entries[0], drafts(1), NOW)[0].model_copy(update={"action": "x"}))
    found = verify_chain(CHAIN, stored(entries), copy)
    assert found is not None and found.seq == 1 and "two different entries" in found.why


def test_the_same_entry_published_twice_is_not_a_fork() -> None:
    entries = chain(3)
    copy = copy_of(entries + entries[1:2])
    assert verify_chain(CHAIN, stored(entries), copy) is None


def test_verify_all_counts_and_reports_the_first_broken_chain() -> None:
    web, cli = chain(4), link("cli", None, drafts(2), NOW)
    copies: dict[str, KafkaCopy] = {"web": copy_of(web), "cli": copy_of(cli)}
    intact = verify_all({"web": stored(web), "cli": stored(cli)}, copies)
    assert str(intact) == "audit chain intact: 6 entries in 2 chains"
    gone = verify_all({"web": stored(web)}, copies)
    assert gone.broken == Break("cli", 0, "the whole chain is missing from Redis")
    not_a_list = verify_all({"web": stored(web), "cli": None}, copies)
    assert not_a_list.broken is not None and not_a_list.broken.chain == "cli"
    broken = verify_all({"web": stored(web)[:3], "cli": stored(cli)}, copies)
    assert str(broken).startswith("audit chain broken at chain 'web', seq 3: missing from Redis")


# --- the worker's chains --------------------------------------------------------------------


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_worker_chain_is_the_partition_kafka_gives_the_person(partitions: int) -> None:
    people = [f"2101051952031401{i:02d}" for i in range(40)]
    choose: Any = DefaultPartitioner()
    for pid in people:
        expected = choose(pid.encode(), list(range(partitions)), list(range(partitions)))
        assert worker_chain(pid, partitions) == f"worker-{expected}"


def test_a_draft_takes_plain_dicts_too() -> None:
    [entry] = link(
        "worker-3", None, [Draft.model_validate({"actor": "system", "action": "opened"})], NOW
    )
    assert (entry.chain, entry.actor, entry.role, entry.detail) == ("worker-3", "system", "", {})


def test_entries_published_after_redis_was_read_do_not_count_against_it() -> None:
    """`audit verify` reads Redis, then Kafka: what a live writer appends in between is on
    Kafka only. It is not a removed entry, nor is a chain begun in between a missing one."""
    entries = chain(5)
    copy = copy_of(entries[:3])
    for entry in entries[3:]:
        copy.add(entry, settled=False)
    assert verify_chain(CHAIN, stored(entries[:3]), copy) is None
    new = KafkaCopy()
    new.add(link("cli", None, drafts(1), NOW)[0], settled=False)
    assert verify_all({CHAIN: stored(entries[:3])}, {CHAIN: copy, "cli": new}).broken is None
    # …but an entry published before the read and missing from Redis is still caught
    assert verify_chain(CHAIN, stored(entries[:2]), copy) is not None
