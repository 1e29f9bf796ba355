"""Rules 15, 16 and 17: what the calendar brings — age bands and overdue survival checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from connectors.ids import birth_date
from streams.rules.finding import Context, Finding, Subject, program_name, standard_key
from streams.rules.views import death_of
from streams.state import PersonState


def _birthday(born: dt.date, age: int) -> dt.date:
    """The day a person reaches `age`; someone born on 29 February has it on 1 March."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return dt.date(born.year + age, 3, 1)


def _suppressed(state: PersonState) -> str | None:
    return "death" if death_of(state) is not None else None


def age_out(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """15 ORPHAN_AGE_OUT: turns 18 within 30 days of today, or already has."""
    limits = ctx.policy.thresholds
    horizon = ctx.today + dt.timedelta(days=limits.age_out_window_days)
    for enrollment in state.active_enrollments:
        if enrollment.program not in limits.age_out_programs:
            continue
        comes_of_age = _birthday(birth_date(state.person_id), limits.age_out_years)
        if comes_of_age > horizon:
            continue
        yield Finding(
            type="ORPHAN_AGE_OUT",
            key=standard_key("ORPHAN_AGE_OUT", enrollment),
            subject=Subject.of(enrollment),
            severity="medium",
            recommended_action="plan_transition",
            evidence=(),
            event_time=comes_of_age,
            reason=f"turns {limits.age_out_years} on {comes_of_age}; "
            f"{program_name(ctx, enrollment.program)} ends at that age",
            suppressed_by=_suppressed(state),
            scheduled=True,
        )


def elderly_band(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """16 ELDERLY_BAND_CHANGE: reaches 90 or 100 within the next 30 days."""
    limits = ctx.policy.thresholds
    horizon = ctx.today + dt.timedelta(days=limits.elderly_window_days)
    for enrollment in state.active_enrollments:
        if enrollment.program not in limits.elderly_programs:
            continue
        born = birth_date(state.person_id)
        for band in limits.elderly_bands:
            birthday = _birthday(born, band)
            if not ctx.today <= birthday <= horizon:
                continue
            yield Finding(
                type="ELDERLY_BAND_CHANGE",
                key=("ELDERLY_BAND_CHANGE", state.person_id, str(band)),
                subject=Subject.of(enrollment),
                severity="low",
                recommended_action="adjust_amount",
                evidence=(),
                event_time=birthday,
                reason=f"turns {band} on {birthday}: the allowance band changes",
                suppressed_by=_suppressed(state),
                scheduled=True,
            )


def survival_check_overdue(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """17 SURVIVAL_CHECK_OVERDUE: no check in the last 90 days (from start_date if none).

    It concludes from a missing record, so it holds back while no survival-check feed is
    current (ctx.stale; streams.rules.sources)."""
    days = ctx.policy.thresholds.survival_check_days
    checks = state.standing("survival_check")
    last = checks[-1] if checks else None
    for enrollment in state.active_enrollments:
        program = ctx.policy.programs.get(enrollment.program)
        if program is None or not program.survival_checks:
            continue
        since = max(enrollment.start_date, last.event_date or dt.date.min) if last else None
        since = since or enrollment.start_date
        if (ctx.today - since).days <= days:
            continue
        what = f"last survival check {last.event_date}" if last else "no survival check"
        yield Finding(
            withheld=ctx.stale.get("survival_check"),
            type="SURVIVAL_CHECK_OVERDUE",
            key=standard_key("SURVIVAL_CHECK_OVERDUE", enrollment),
            subject=Subject.of(enrollment),
            severity="medium",
            recommended_action="contact_beneficiary",
            evidence=(last,) if last else (),
            event_time=since + dt.timedelta(days=days),
            reason=f"{what}; enrolled since {enrollment.start_date}; "
            f"checks are due every {days} days",
            suppressed_by=_suppressed(state),
            scheduled=True,
        )
