"""A person's payments, kept apart from their other facts: a ledger, one row per payment.

A year of payments is most of what is known about a person, and rules 3, 5, 18 and 19 are
all that read them. Kept with the other facts, every death or move decoded and re-encoded
a dozen payments as full Facts; kept apart, a fact that is not a payment leaves the ledger
as it was read (the store writes it back only when it changed), and the ledger is decoded
without building a Fact per payment: a row is a `Paid`, and a Fact is built from it only as
evidence for a finding.

A row keeps everything of the payment but its person (the ledger's) and kind ("payment"):
its record id, received time and source stay evidence, and `Paid.fact` gives back the Fact
that arrived, with the verdict the worker recorded with it (streams.state.judge_payment).

Stored form (the `payments` field of the person's hash, names.PERSON_PAYMENTS): JSON,
`{"ledger": 1, "rows": [[feed, record_id, name, event_date, received_at, source, delivery,
attrs], ...]}` (a row is a Paid's fields in order), compressed as the other fields
(welfare_watch.packing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Literal, NamedTuple

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict on 3.12 and later only

from welfare_watch.models import Fact, identity_of, revoking
from welfare_watch.packing import pack, unpack

FORMAT: Literal[1] = 1


class BadLedger(ValueError):
    """A payments field this version cannot read."""


class Paid(NamedTuple):
    """One payment in the ledger: a payment Fact's fields but its person and kind."""

    feed: str
    record_id: str
    name: str
    event_date: dt.date | None  # the month paid for (its first day)
    received_at: dt.datetime
    source: str
    delivery: str
    attrs: Mapping[str, str]

    @classmethod
    def of(cls, fact: Fact) -> Paid:
        return cls(fact.feed, fact.record_id, fact.name, fact.event_date, fact.received_at,
                   fact.source, fact.delivery, fact.attrs)  # fmt: skip

    @property
    def revokes(self) -> bool:
        return revoking(self.attrs)

    @property
    def identity(self) -> str:
        return identity_of(self.feed, self.record_id, self.attrs)

    def fact(self, person_id: str) -> Fact:
        """The payment as it arrived (with its verdict): evidence for a finding."""
        return Fact(
            feed=self.feed,
            kind="payment",
            record_id=self.record_id,
            person_id=person_id,
            name=self.name,
            event_date=self.event_date,
            attrs=dict(self.attrs),
            received_at=self.received_at,
            source=self.source,
            delivery=self.delivery,
        )


class Ledger:
    """Every payment record about one person, revocations included, by identity.

    One read from the store is decoded when first looked at: a household's co-members are
    loaded for their enrollments and income, and their payments are never decoded."""

    def __init__(self, entries: Mapping[str, Paid] | None = None, *, stored: bytes = b"") -> None:
        self._stored = stored
        if entries is not None or not stored:
            self.__dict__["entries"] = entries or {}  # as `entries` would have cached it

    @cached_property
    def entries(self) -> Mapping[str, Paid]:
        try:
            rows = _STORED.validate_json(unpack(self._stored))["rows"]
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise BadLedger(
                f"a payments ledger in a format this version cannot read: {problem}"
            ) from None
        return {paid.identity: paid for paid in rows}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ledger) and self.entries == other.entries

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, identity: object) -> bool:
        return identity in self.entries

    def __iter__(self) -> Iterator[Paid]:
        return iter(self.entries.values())

    def adding(self, payment: Fact) -> Ledger:
        """The ledger with one more payment (the same record twice changes nothing)."""
        if payment.identity in self.entries:
            return self
        return Ledger({**self.entries, payment.identity: Paid.of(payment)})

    @cached_property
    def standing(self) -> tuple[Paid, ...]:
        """Payments that are neither revocations nor revoked, by month, then as received."""
        revoked = {identity_of(p.feed, p.record_id, {}) for p in self if p.revokes}
        return tuple(
            sorted(
                (p for i, p in self.entries.items() if not p.revokes and i not in revoked),
                key=_chronological,
            )
        )


def _chronological(paid: Paid) -> tuple[dt.date, dt.datetime, str]:
    return (paid.event_date or dt.date.min, paid.received_at, paid.identity)


def ledger_of(payments: Iterable[Fact]) -> Ledger:
    ledger = Ledger()
    for payment in payments:
        ledger = ledger.adding(payment)
    return ledger


def encode_ledger(ledger: Ledger) -> bytes:
    return pack(_STORED.dump_json(_Stored(ledger=FORMAT, rows=list(ledger))))


def decode_ledger(stored: bytes | None) -> Ledger:
    """The ledger as `encode_ledger` wrote it (empty when there is none), decoded when first
    looked at (a format this version cannot read raises BadLedger then)."""
    return Ledger(stored=stored or b"")


class _Stored(TypedDict):
    ledger: Literal[1]
    rows: list[Paid]


# pydantic's, not json's: parsing, dates and the rows' tuples are built in Rust, three times
# faster than json.loads and a Python loop over the rows
_STORED = TypeAdapter(_Stored)
