"""Rules 1, 2 and 4: benefits held by the dead and by people in prison."""

from __future__ import annotations

from collections.abc import Iterator

from streams.rules.finding import Context, Finding, Subject, program_name, standard_key
from streams.rules.views import death_of, imprisonment
from streams.state import PersonState


def deceased(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """1 DECEASED_BENEFICIARY (head or individual) and 2 DECEASED_HOUSEHOLD_MEMBER."""
    death = death_of(state)
    if death is None:
        return
    feeds = ", ".join(sorted({f.feed for f in death.records}))
    for enrollment in state.active_enrollments:
        program = program_name(ctx, enrollment.program)
        if enrollment.role == "member":
            yield Finding(
                type="DECEASED_HOUSEHOLD_MEMBER",
                key=standard_key("DECEASED_HOUSEHOLD_MEMBER", enrollment),
                subject=Subject.of(enrollment),
                severity="high",
                recommended_action="recalculate_benefit",
                evidence=death.records,
                confidence=death.confidence,
                event_time=death.date,
                reason=f"died {death.date} ({feeds}); still counted as a member of "
                f"household {enrollment.household_id} in {program}",
            )
            continue
        confirmed = death.confidence == "confirmed"
        yield Finding(
            type="DECEASED_BENEFICIARY",
            key=standard_key("DECEASED_BENEFICIARY", enrollment),
            subject=Subject.of(enrollment),
            severity="critical",
            recommended_action="suspend_payment" if confirmed else "verify_in_person",
            evidence=death.records,
            confidence=death.confidence,
            event_time=death.date,
            reason=f"died {death.date} ({feeds}); still holds an active {program} "
            f"enrollment as {enrollment.role}",
        )


def incarcerated(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """4 INCARCERATED_BENEFICIARY: admitted to prison, no later release."""
    admission = imprisonment(state)
    if admission is None:
        return
    prison = admission.attrs.get("prison", "prison")
    for enrollment in state.active_enrollments:
        yield Finding(
            type="INCARCERATED_BENEFICIARY",
            key=standard_key("INCARCERATED_BENEFICIARY", enrollment),
            subject=Subject.of(enrollment),
            severity="critical",
            recommended_action="suspend_payment",
            evidence=(admission,),
            event_time=admission.event_date,
            reason=f"admitted to {prison} on {admission.event_date} with no later release; "
            f"holds an active {program_name(ctx, enrollment.program)} enrollment",
        )
