"""Rules 3, 5, 18 and 19: payments to the dead, to prisoners, of the wrong amount, to nobody."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from streams.ledger import Paid
from streams.rules.finding import Context, Finding, subject_for
from streams.rules.views import Spell, death_of, prison_spells
from streams.state import PersonState
from welfare_watch.models import Fact


def _amount(payment: Paid) -> Decimal:
    return Decimal(payment.attrs.get("amount", "0"))


def _month(payment: Paid) -> dt.date:
    return payment.event_date or dt.date.min


def _by_program(payments: Iterable[Paid]) -> dict[str, list[Paid]]:
    grouped: dict[str, list[Paid]] = defaultdict(list)
    for payment in payments:
        grouped[payment.attrs.get("program", "")].append(payment)
    return grouped


def _evidence(state: PersonState, payments: Iterable[Paid]) -> tuple[Fact, ...]:
    return tuple(p.fact(state.person_id) for p in payments)


def _total(payments: list[Paid]) -> tuple[Decimal, str]:
    """The amount at risk (the sum) and the months it was paid for, for the reason."""
    amount = sum((_amount(p) for p in payments), Decimal("0.00"))
    return amount, ", ".join(f"{_month(p):%Y-%m}" for p in payments)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def posthumous(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """3 POSTHUMOUS_PAYMENT: payments for months after the month of death."""
    death = death_of(state)
    if death is None or death.date is None:
        return
    death_month = death.date.replace(day=1)
    late = [p for p in state.payments.standing if _month(p) > death_month]
    for program, payments in _by_program(late).items():
        amount, months = _total(payments)
        yield Finding(
            type="POSTHUMOUS_PAYMENT",
            key=("POSTHUMOUS_PAYMENT", state.person_id, program),
            subject=subject_for(state.person_id, program, state.enrollments, payments[0].name, ctx),
            severity="critical",
            recommended_action="recover_overpayment",
            evidence=(*death.records, *_evidence(state, payments)),
            confidence=death.confidence,
            event_time=death.date,
            amount_at_risk=amount,
            reason=f"died {death.date}; paid {amount} for {months}, after the month of death",
        )


def _wholly_in_prison(month: dt.date, spells: list[Spell]) -> Fact | None:
    """The admission whose stay covers the whole month (admitted before, released after)."""
    month_end = _next_month(month) - dt.timedelta(days=1)
    for spell in spells:
        if spell.start < month and (spell.end is None or spell.end > month_end):
            return spell.admission
    return None


def paid_in_prison(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """5 PAYMENT_DURING_INCARCERATION: payments for months spent wholly in prison."""
    spells = prison_spells(state)
    if not spells:  # most people: no payment to look at
        return
    flagged: list[tuple[Paid, Fact]] = []
    for payment in state.payments.standing:
        admission = _wholly_in_prison(_month(payment), spells)
        if admission is not None:
            flagged.append((payment, admission))
    for program, payments in _by_program([p for p, _ in flagged]).items():
        paid = {p.identity for p in payments}
        admissions = tuple({a.identity: a for p, a in flagged if p.identity in paid}.values())
        amount, months = _total(payments)
        yield Finding(
            type="PAYMENT_DURING_INCARCERATION",
            key=("PAYMENT_DURING_INCARCERATION", state.person_id, program),
            subject=subject_for(state.person_id, program, state.enrollments, payments[0].name, ctx),
            severity="critical",
            recommended_action="recover_overpayment",
            evidence=(*admissions, *_evidence(state, payments)),
            event_time=admissions[0].event_date,
            amount_at_risk=amount,
            reason=f"paid {amount} for {months}, months spent wholly in prison",
        )


def wrong_amount(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """18 PAYMENT_AMOUNT_MISMATCH: judged against the approved amount when the payment came."""
    tolerance = ctx.policy.thresholds.amount_tolerance
    for payment in state.payments.irregular:  # the others are the approved amount
        expected = payment.attrs.get("expected_amount")
        if payment.attrs.get("enrolled") != "active" or expected is None:
            continue
        paid, approved = _amount(payment), Decimal(expected)
        if abs(paid - approved) <= tolerance:
            continue
        program, month = payment.attrs.get("program", ""), f"{_month(payment):%Y-%m}"
        yield Finding(
            type="PAYMENT_AMOUNT_MISMATCH",
            key=("PAYMENT_AMOUNT_MISMATCH", state.person_id, program, month),
            subject=subject_for(state.person_id, program, state.enrollments, payment.name, ctx),
            severity="high",
            recommended_action="correct_payment",
            evidence=_evidence(state, [payment]),
            event_time=_month(payment),
            reason=f"paid {paid} for {month}; the approved monthly amount was {approved}",
        )


def paid_while_inactive(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """19 PAYMENT_TO_INACTIVE: paid with no active enrollment when the payment came."""
    inactive = [p for p in state.payments.irregular if p.attrs.get("enrolled") == "inactive"]
    for program, payments in _by_program(inactive).items():
        amount, months = _total(payments)
        yield Finding(
            type="PAYMENT_TO_INACTIVE",
            key=("PAYMENT_TO_INACTIVE", state.person_id, program),
            subject=subject_for(state.person_id, program, state.enrollments, payments[0].name, ctx),
            severity="critical",
            recommended_action="recover_overpayment",
            evidence=_evidence(state, payments),
            event_time=_month(payments[0]),
            amount_at_risk=amount,
            reason=f"paid {amount} for {months} with no active enrollment in {program}",
        )
