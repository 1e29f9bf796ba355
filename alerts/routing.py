"""Which queue an alert goes to: the case's caseworker, or the district supervisor."""

from __future__ import annotations

from streams.rules.finding import Subject
from welfare_watch.settings import Policy
from welfare_watch.tokens import reader


def route(subject: Subject, to_supervisor: bool, policy: Policy) -> str:
    """Never nowhere, and never where no token reads: no caseworker, or one the configuration
    does not know (or no caseworker token could name), means the district supervisor; a
    district that is not configured means the city's supervisor."""
    caseworker = subject.caseworker_id
    if not to_supervisor and reader(caseworker, policy) == ("caseworker", caseworker):
        return caseworker
    return policy.city.supervisor_queue(subject.district_code)
