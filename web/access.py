"""Who may see and do what, decided in one place: every route, the event stream and the exports
ask these pure functions with the verified claims of the caller and the alert.

- a caseworker: the alerts in their own queue;
- a supervisor of a district: the district's alerts, its supervisor queue and its caseworkers'
  queues; the supervisor with the city's code (210100): the city queue and every district;
- an auditor: everything, read-only; a department: no alert at all (it only pushes its feed).

A token whose scope the configuration no longer knows (a caseworker taken off `[routing]
caseworkers`, a district no longer listed) sees nothing.
"""

from __future__ import annotations

from alerts.model import Alert
from welfare_watch import names
from welfare_watch.names import supervisor_queue
from welfare_watch.settings import Policy
from welfare_watch.tokens import ALL, Claims, reader


def can_see(claims: Claims, alert: Alert, policy: Policy) -> bool:
    """Whether the caller may read this alert (list, detail, event stream, export)."""
    if claims.role == "auditor":
        return claims.scope == ALL
    if claims.role == "caseworker":
        return _own_queue(claims, policy) and alert.queue == claims.scope
    if claims.role == "supervisor":
        return _in_district(claims, alert, policy)
    return False


def can_act(claims: Claims, alert: Alert, policy: Policy) -> bool:
    """Whether the caller may acknowledge, resolve or dismiss this alert: a caseworker in their
    own queue, a supervisor within their scope; an auditor or a department never."""
    if claims.role in ("caseworker", "supervisor"):
        return can_see(claims, alert, policy)
    return False


def can_reassign(claims: Claims, alert: Alert, target_queue: str, policy: Policy) -> str | None:
    """None if the caller may move this alert to `target_queue`, else the reason they may not.

    Only a supervisor, for an alert within their scope, to a caseworker queue some token reads
    (`welfare_watch.tokens.reader`) in their own district; the city's supervisor to any such
    queue. (A route answers 403 when `can_act` is False, and 422 for a bad target.)
    """
    if claims.role != "supervisor":
        return f"only a supervisor can reassign an alert, not a {claims.role}"
    if not can_act(claims, alert, policy):
        return "the alert is outside your scope"
    if reader(target_queue, policy) != ("caseworker", target_queue):
        return f"{target_queue!r} is not the queue of a caseworker whose token can read it"
    if claims.scope == policy.city.code:
        return None
    if caseworker_district(target_queue, policy) != claims.scope:
        return f"caseworker {target_queue!r} is not in your district ({claims.scope})"
    return None


def visible_index(claims: Claims, policy: Policy) -> list[str]:
    """The Redis sorted sets that hold the ids of every alert the caller may see (a superset
    at most: a list still keeps only what `can_see` allows)."""
    if claims.role == "auditor" and claims.scope == ALL:
        return list(names.ALERT_ORDER_KEYS)
    if claims.role == "caseworker" and _own_queue(claims, policy):
        return [names.queue_alerts_key(claims.scope)]
    if claims.role == "supervisor" and claims.scope in policy.city.supervisor_scopes:
        if claims.scope == policy.city.code:
            return list(names.ALERT_ORDER_KEYS)
        return [names.district_alerts_key(claims.scope)]
    return []


def caseworker_district(caseworker_id: str, policy: Policy) -> str | None:
    """The configured district a caseworker belongs to: the district code in their id
    (`cw-210105-01` → 210105). None for an id no caseworker token could name (not listed in
    `[routing] caseworkers` where that is configured) or one naming no configured district."""
    if reader(caseworker_id, policy) != ("caseworker", caseworker_id):
        return None
    for part in caseworker_id.split("-"):
        if part in policy.city.districts:
            return part
    return None


def _own_queue(claims: Claims, policy: Policy) -> bool:
    """A caseworker token still names a caseworker the configuration accepts."""
    return reader(claims.scope, policy) == ("caseworker", claims.scope)


def _in_district(claims: Claims, alert: Alert, policy: Policy) -> bool:
    scope = claims.scope
    if scope not in policy.city.supervisor_scopes:
        return False
    if scope == policy.city.code:
        return True
    return (
        alert.district_code == scope
        or alert.queue == supervisor_queue(scope)
        or caseworker_district(alert.queue, policy) == scope
    )
