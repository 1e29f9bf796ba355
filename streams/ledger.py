"""A person's payments, kept apart from their other facts: a ledger, one row per payment.

A year of payments is most of what is known about a person, and rules 3, 5, 18 and 19 are
all that read them. Kept with the other facts, every death or move decoded and re-encoded
a dozen payments as full Facts; kept apart, a fact that is not a payment leaves the ledger
as it was read (the store writes back only what changed), and the ledger is decoded without
building a Fact per payment: a row is a `Paid`, and a Fact is built from it only as evidence
for a finding.

A row keeps everything of the payment but its person (the ledger's) and kind ("payment"):
its record id, received time and source stay evidence, and `Paid.fact` gives back the Fact
that arrived, with the verdict the worker recorded with it (streams.state.judge_payment).

The ledger is kept in two parts. `regular`: payments to an enrollment active when they came,
of exactly its approved amount, which is nearly all of them. `rest`: the others, and the
revocations. Rules 18 and 19 can only flag a payment of the rest (`Ledger.irregular`), so a
person who is neither dead nor in prison is judged without decoding their regular payments,
and a part is decoded only when first looked at (a household's co-members, loaded for their
enrollments and income, never decode their payments).

Stored form (the `payments` and `payments_rest` fields of the person's hash, names.PERSON_*):
each part JSON, `{"ledger": 1, "rows": [[feed, record_id, name, event_date, received_at,
source, delivery, attrs], ...]}` (a row is a Paid's fields in order), compressed as the other
fields (welfare_watch.packing); a part with no rows is not stored.
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


class Rows:
    """One part of a ledger: its payment records by identity, decoded when first looked at
    when read from the store."""

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

    def __len__(self) -> int:
        return len(self.entries)

    def with_row(self, identity: str, paid: Paid) -> Rows:
        return Rows({**self.entries, identity: paid})


class Ledger:
    """Every payment record about one person, revocations included, in two parts (see the
    module): `regular` and `rest`."""

    def __init__(self, regular: Rows | None = None, rest: Rows | None = None) -> None:
        self.regular = Rows() if regular is None else regular  # `or` would decode it
        self.rest = Rows() if rest is None else rest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ledger) and dict(self.entries) == dict(other.entries)

    __hash__ = None  # type: ignore[assignment]

    @property
    def entries(self) -> Mapping[str, Paid]:
        return {**self.regular.entries, **self.rest.entries}

    def __len__(self) -> int:
        return len(self.regular) + len(self.rest)

    def __contains__(self, identity: object) -> bool:
        return identity in self.regular.entries or identity in self.rest.entries

    def __iter__(self) -> Iterator[Paid]:
        yield from self.regular.entries.values()
        yield from self.rest.entries.values()

    def adding(self, payment: Fact) -> Ledger:
        """The ledger with one more payment (the same record twice changes nothing)."""
        identity = payment.identity
        if identity in self:
            return self
        paid = Paid.of(payment)
        if is_regular(paid):
            return Ledger(self.regular.with_row(identity, paid), self.rest)
        return Ledger(self.regular, self.rest.with_row(identity, paid))

    @cached_property
    def standing(self) -> tuple[Paid, ...]:
        """Payments that are neither revocations nor revoked, by month, then as received."""
        return _standing(self, self._revoked)

    @cached_property
    def irregular(self) -> tuple[Paid, ...]:
        """The standing payments that are not `is_regular`: the only ones rules 18 and 19 can
        flag. The regular ones are not decoded."""
        return _standing(self.rest.entries.values(), self._revoked)

    @cached_property
    def _revoked(self) -> frozenset[str]:
        # revocations are never regular: all are in `rest`
        return frozenset(
            identity_of(p.feed, p.record_id, {}) for p in self.rest.entries.values() if p.revokes
        )


def is_regular(paid: Paid) -> bool:
    """Paid to an enrollment active when it came, exactly its approved amount (the verdict
    streams.state.judge_payment recorded): nothing for rule 18 or 19 to flag."""
    attrs = paid.attrs
    return (
        not paid.revokes
        and attrs.get("enrolled") == "active"
        and attrs.get("expected_amount") is not None
        and attrs.get("amount") == attrs["expected_amount"]
    )


def _standing(payments: Iterable[Paid], revoked: frozenset[str]) -> tuple[Paid, ...]:
    kept = (p for p in payments if not p.revokes and p.identity not in revoked)
    return tuple(sorted(kept, key=_chronological))


def _chronological(paid: Paid) -> tuple[dt.date, dt.datetime, str]:
    return (paid.event_date or dt.date.min, paid.received_at, paid.identity)


def ledger_of(payments: Iterable[Fact]) -> Ledger:
    ledger = Ledger()
    for payment in payments:
        ledger = ledger.adding(payment)
    return ledger


def encode_rows(rows: Rows) -> bytes:
    """One part of a ledger, as stored."""
    return pack(_STORED.dump_json(_Stored(ledger=FORMAT, rows=list(rows.entries.values()))))


def decode_ledger(regular: bytes | None, rest: bytes | None = None) -> Ledger:
    """The ledger from its two parts as `encode_rows` wrote them (either absent when empty),
    each decoded when first looked at (a format this version cannot read raises BadLedger
    then)."""
    return Ledger(Rows(stored=regular or b""), Rows(stored=rest or b""))


class _Stored(TypedDict):
    ledger: Literal[1]
    rows: list[Paid]


# pydantic's, not json's: parsing, dates and the rows' tuples are built in Rust, three times
# faster than json.loads and a Python loop over the rows
_STORED = TypeAdapter(_Stored)
