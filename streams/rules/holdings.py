"""Rules 8, 9 and 14: what a person holds on the roster, and whose relative they are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import combinations

from streams.rules.finding import Context, Finding, Subject, standard_key
from streams.state import PersonState
from welfare_watch.models import Enrollment


def _is_household(enrollment: Enrollment, ctx: Context) -> bool:
    program = ctx.policy.programs.get(enrollment.program)
    return program is not None and program.kind == "household"


def _conflict(a: Enrollment, b: Enrollment, ctx: Context) -> bool:
    """Two programs of one group; two households of household programs are rule 9 instead."""
    different_households = a.household_id != b.household_id
    both_household = _is_household(a, ctx) and _is_household(b, ctx)
    return a.program != b.program and not (both_household and different_households)


def duplicate_enrollment(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """8 DUPLICATE_ENROLLMENT: two programs of one exclusive group at once."""
    by_group: dict[str, list[Enrollment]] = defaultdict(list)
    for enrollment in state.active_enrollments:
        program = ctx.policy.programs.get(enrollment.program)
        if program is not None and program.group is not None:
            by_group[program.group].append(enrollment)
    for group, enrollments in sorted(by_group.items()):
        clashing = sorted(
            {e for a, b in combinations(enrollments, 2) if _conflict(a, b, ctx) for e in (a, b)},
            key=lambda e: (e.start_date, e.program),
        )
        if clashing:
            programs = ", ".join(sorted({e.program for e in clashing}))
            yield Finding(
                type="DUPLICATE_ENROLLMENT",
                key=("DUPLICATE_ENROLLMENT", state.person_id),
                subject=Subject.of(clashing[0]),
                severity="high",
                recommended_action="review_eligibility",
                evidence=(),
                event_time=max(e.start_date for e in clashing),
                reason=f"holds {programs} at once; they are exclusive ({group})",
            )
            return


def duplicate_household(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """9 DUPLICATE_HOUSEHOLD: in two different active households of household programs."""
    households = sorted(
        (e for e in state.active_enrollments if _is_household(e, ctx) and e.household_id),
        key=lambda e: (e.start_date, e.household_id),
    )
    ids = sorted({e.household_id for e in households})
    if len(ids) >= 2:
        yield Finding(
            type="DUPLICATE_HOUSEHOLD",
            key=("DUPLICATE_HOUSEHOLD", state.person_id),
            subject=Subject.of(households[0]),
            severity="high",
            recommended_action="review_eligibility",
            evidence=(),
            event_time=max(e.start_date for e in households),
            reason=f"counted in {len(ids)} households at once: {', '.join(ids)}",
        )


def staff_relative(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """14 STAFF_RELATIVE: to the district supervisor, never to the related staff member."""
    declarations = tuple(state.standing("staff_relative"))
    if not declarations:
        return
    staff = ", ".join(sorted({d.attrs.get("staff_id", "") for d in declarations}))
    for enrollment in state.active_enrollments:
        yield Finding(
            type="STAFF_RELATIVE",
            key=standard_key("STAFF_RELATIVE", enrollment),
            subject=Subject.of(enrollment),
            severity="medium",
            recommended_action="independent_review",
            evidence=declarations,
            to_supervisor=True,
            reason=f"declared as a close relative by civil-affairs staff {staff}; "
            f"holds an active {enrollment.program} enrollment",
        )
