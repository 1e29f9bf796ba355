"""Which queue an alert goes to: the case's caseworker, or the district supervisor."""

from __future__ import annotations

from streams.rules.finding import Subject
from welfare_watch.names import supervisor_queue
from welfare_watch.settings import Routing


def route(subject: Subject, to_supervisor: bool, routing: Routing) -> str:
    """Never nowhere: no caseworker, or one the configuration does not know, means the
    district supervisor."""
    caseworker = subject.caseworker_id
    known = routing.caseworkers
    if to_supervisor or not caseworker or (known is not None and caseworker not in known):
        return supervisor_queue(subject.district_code)
    return caseworker
