"""Rules 6 and 7: household registration moved out of the city, or to another district."""

from __future__ import annotations

from collections.abc import Iterator

from streams.rules.finding import Context, Finding, Subject, standard_key
from streams.rules.views import death_of, imprisonment, latest_move
from streams.state import PersonState


def _outranked_by(state: PersonState) -> str | None:
    """Death outranks everything; prison outranks moves."""
    if death_of(state) is not None:
        return "death"
    if imprisonment(state) is not None:
        return "prison"
    return None


def moved(state: PersonState, ctx: Context) -> Iterator[Finding]:
    """6 HUKOU_MOVED_OUT and 7 HUKOU_MOVED_WITHIN_CITY, judged on the latest move."""
    move = latest_move(state)
    if move is None:
        return
    destination = move.attrs.get("to_region", "")
    origin = move.attrs.get("from_region", "")
    city = ctx.policy.city
    suppressed_by = _outranked_by(state)
    for enrollment in state.active_enrollments:
        if not city.in_city(destination):
            type_, severity, action = "HUKOU_MOVED_OUT", "high", "review_eligibility"
            reason = f"household registration moved from {origin} to {destination}, outside "
            reason += f"{city.name}, on {move.event_date}"
        elif destination != enrollment.district_code:
            type_, severity, action = "HUKOU_MOVED_WITHIN_CITY", "low", "transfer_case"
            district = city.districts.get(destination, destination)
            reason = f"household registration moved to {district} ({destination}) on "
            reason += f"{move.event_date}; the case is managed by {enrollment.district_code}"
        else:
            continue
        yield Finding(
            type=type_,
            key=standard_key(type_, enrollment),
            subject=Subject.of(enrollment),
            severity=severity,  # type: ignore[arg-type]
            recommended_action=action,
            evidence=(move,),
            event_time=move.event_date,
            reason=reason,
            suppressed_by=suppressed_by,
        )
