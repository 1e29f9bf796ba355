"""Which queue an alert goes to: the enrollment's caseworker, or the district supervisor."""

from __future__ import annotations

from welfare_watch.models import Enrollment
from welfare_watch.names import supervisor_queue


def route(enrollment: Enrollment, to_supervisor: bool) -> str:
    """Never nowhere: a case without a caseworker goes to its district's supervisor."""
    if to_supervisor or not enrollment.caseworker_id:
        return supervisor_queue(enrollment.district_code)
    return enrollment.caseworker_id
