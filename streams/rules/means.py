"""Rules 10 to 13: means-tested benefits held by people with cars, property, companies, income."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from streams.rules.finding import Context, Finding, Subject, program_name, standard_key
from streams.rules.views import death_of, latest_income, latest_per
from streams.state import PersonState
from welfare_watch.models import Enrollment, Fact


def _means_tested(state: PersonState, ctx: Context) -> list[Enrollment]:
    programs = ctx.policy.programs
    return [
        e
        for e in state.active_enrollments
        if e.program in programs and programs[e.program].means_tested
    ]


def _findings(
    type_: str, state: PersonState, ctx: Context, evidence: tuple[Fact, ...], why: str
) -> Iterator[Finding]:
    dead = death_of(state) is not None
    for enrollment in _means_tested(state, ctx):
        yield Finding(
            type=type_,
            key=standard_key(type_, enrollment),
            subject=Subject.of(enrollment),
            severity="high",
            recommended_action="review_eligibility",
            evidence=evidence,
            event_time=max((f.event_date for f in evidence if f.event_date), default=None),
            reason=f"{why}; holds means-tested {program_name(ctx, enrollment.program)}",
            suppressed_by="death" if dead else None,
        )


def vehicle_owner(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """10 VEHICLE_OWNER: a registered vehicle of a type that is not exempt."""
    exempt = set(ctx.policy.thresholds.exempt_vehicle_types)
    plates = latest_per(state.standing("vehicle"), lambda f: f.attrs.get("plate", f.identity))
    owned = tuple(
        f
        for f in plates.values()
        if f.attrs.get("status") == "registered" and f.attrs.get("vehicle_type") not in exempt
    )
    if owned:
        kinds = ", ".join(sorted({f.attrs.get("vehicle_type", "") for f in owned}))
        yield from _findings("VEHICLE_OWNER", state, ctx, owned, f"owns a registered {kinds}")


def property_owner(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """11 PROPERTY_OWNER: a non-residential unit, or two or more residential units."""
    non_residential = set(ctx.policy.thresholds.non_residential_uses)
    units = latest_per(state.standing("property"), lambda f: f.attrs.get("unit_id", f.identity))
    held = [f for f in units.values() if f.attrs.get("status") == "registered"]
    commercial = tuple(f for f in held if f.attrs.get("use") in non_residential)
    homes = tuple(f for f in held if f.attrs.get("use_class") == "residential")
    if commercial:
        uses = ", ".join(sorted({f.attrs.get("use", "") for f in commercial}))
        yield from _findings("PROPERTY_OWNER", state, ctx, commercial, f"holds {uses} property")
    elif len(homes) >= 2:
        yield from _findings(
            "PROPERTY_OWNER", state, ctx, homes, f"holds {len(homes)} residential units"
        )


def legal_person(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """12 LEGAL_PERSON: legal representative or shareholder of an operating company."""
    companies = latest_per(
        state.standing("company_role"), lambda f: f.attrs.get("credit_code", f.identity)
    )
    operating = tuple(f for f in companies.values() if f.attrs.get("company_status") == "operating")
    if operating:
        names = ", ".join(sorted({f.attrs.get("company_name", "") for f in operating}))
        why = f"legal representative or shareholder of operating {names}"
        yield from _findings("LEGAL_PERSON", state, ctx, operating, why)


def _household(state: PersonState, enrollment: Enrollment) -> list[PersonState]:
    """Everyone with an active enrollment in this household, the head first."""
    others = [
        member
        for member in state.co_members.get(enrollment.household_id, ())
        if any(e.household_id == enrollment.household_id for e in member.active_enrollments)
    ]
    return [state, *others]


def income_over_threshold(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """13 INCOME_OVER_THRESHOLD: per-capita latest income above the program's standard."""
    dead = death_of(state) is not None
    for enrollment in state.active_enrollments:
        program = ctx.policy.programs.get(enrollment.program)
        if program is None or program.income_standard is None or enrollment.role == "member":
            continue
        people = _household(state, enrollment) if program.kind == "household" else [state]
        incomes = tuple(f for f in (latest_income(p) for p in people) if f is not None)
        total = sum((Decimal(f.attrs.get("amount", "0")) for f in incomes), Decimal("0.00"))
        per_capita = (total / len(people)).quantize(Decimal("0.01"))
        if per_capita <= program.income_standard:
            continue
        yield Finding(
            type="INCOME_OVER_THRESHOLD",
            key=standard_key("INCOME_OVER_THRESHOLD", enrollment),
            subject=Subject.of(enrollment),
            severity="high",
            recommended_action="review_eligibility",
            evidence=incomes,
            event_time=max((f.event_date for f in incomes if f.event_date), default=None),
            reason=f"per-capita monthly income {per_capita} ({total} over {len(people)} "
            f"people) exceeds the {program.name} standard {program.income_standard}",
            suppressed_by="death" if dead else None,
        )
