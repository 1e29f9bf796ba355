"""The caseworkers' API: list, read and act on alerts; the pre-approval check.

Access is decided by web.access for every route. A person's action becomes a command on
ww.commands, keyed by person id, applied by the worker that owns the person (the one writer
of alert state); this app answers once the worker has written the outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any, cast

from aiohttp import web
from pydantic import ValidationError

from alerts import inbox
from alerts.lifecycle import Action, Actor, Command, Outcome, Refused, check
from alerts.model import Alert
from streams.scan import precheck_async
from web.access import can_act, can_reassign, can_see, visible_index
from web.audit import audit_request
from web.auth import caller, forbid
from web.commands import COMMANDS
from web.errors import fail
from web.state import REDIS, SETTINGS
from welfare_watch import names
from welfare_watch.errors import WelfareWatchError
from welfare_watch.tokens import Claims

MAX_PER_PAGE = 200
COMMAND_WAIT = 15.0  # seconds the app waits for the worker to apply an action
_PEOPLE = frozenset({"caseworker", "supervisor", "auditor"})
_ACTORS = frozenset({"caseworker", "supervisor"})


async def list_alerts(request: web.Request) -> web.Response:
    """`GET /api/alerts`: the caller's alerts, filtered and paged, with open counts."""
    claims = await _person(request, _PEOPLE)
    policy = request.app[SETTINGS].policy
    query = request.rel_url.query
    filters = inbox.Filters(**{k: query.get(k, "") for k in inbox.Filters.__dataclass_fields__})
    page = await inbox.list_alerts(
        request.app[REDIS],
        visible_index(claims, policy),
        filters,
        _positive(query, "page", 1, 10**6),
        _positive(query, "per_page", 50, MAX_PER_PAGE),
        lambda a: can_see(claims, a, policy),
    )
    return web.json_response(
        {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "counts": page.counts,
            "alerts": [summary(a) for a in page.alerts],
        }
    )


async def get_alert(request: web.Request) -> web.Response:
    """`GET /api/alerts/{id}`: one alert in full; every view is audited."""
    claims = await _person(request, _PEOPLE)
    alert = await _visible_alert(request, claims)
    await audit_request(
        request, claims, "viewed", target=alert.alert_id, detail={"type": alert.type}
    )
    return _alert_response(alert)


async def act(request: web.Request) -> web.Response:
    """`POST /api/alerts/{id}/ack|resolve|dismiss|reassign`: applied by the worker."""
    action = cast(Action, request.rel_url.path.rsplit("/", 1)[-1])
    claims = await _person(request, _ACTORS)
    alert = await _visible_alert(request, claims)
    body = await _json_body(request)
    policy = request.app[SETTINGS].policy
    refusal = (
        can_reassign(claims, alert, str(body.get("queue") or ""), policy)
        if action == "reassign"
        else (None if can_act(claims, alert, policy) else f"a {claims.role} may not act on it")
    )
    if refusal is not None:
        raise await forbid(request, claims, refusal)
    try:
        command = Command(
            alert_id=alert.alert_id,
            person_id=alert.person_id,
            action=action,
            note=str(body.get("note") or ""),
            resolution=body.get("resolution"),
            queue=body.get("queue"),
            actor=Actor(
                subject=claims.subject,
                role=claims.role,
                scope=claims.scope,
                token_id=claims.token_id,
            ),
            at=dt.datetime.now(dt.UTC),
        )
        check(alert, command)  # a quick answer; the worker checks again on the latest version
    except ValidationError as exc:
        raise fail(web.HTTPUnprocessableEntity, _first_error(exc)) from None
    except Refused as exc:
        raise _refused(exc.status, exc.reason) from None
    outcome = await _apply(request, command)
    if outcome is None:
        return web.json_response(
            {"command_id": command.command_id, "status": "queued",
             "error": "the worker has not applied it yet; it will be when it is back"},
            status=202,
        )  # fmt: skip
    if not outcome.ok or outcome.alert is None:
        raise _refused(outcome.status, outcome.error)
    return _alert_response(outcome.alert)


async def checks(request: web.Request) -> web.Response:
    """`POST /api/checks`: the pre-approval check, the worker's rules, nothing written."""
    claims = await _person(request, _ACTORS)
    body = await _json_body(request)
    program, ids = body.get("program"), body.get("ids")
    if not isinstance(program, str) or not isinstance(ids, list) or not ids:
        raise fail(web.HTTPUnprocessableEntity, 'send {"program": CODE, "ids": [ID, ...]}')
    if len(ids) > 1000:
        raise fail(web.HTTPRequestEntityTooLarge, "at most 1000 ID numbers per check")
    try:
        results = await precheck_async(
            request.app[SETTINGS], program, [str(i) for i in ids], request.app[REDIS]
        )
    except WelfareWatchError as exc:
        raise fail(web.HTTPUnprocessableEntity, str(exc)) from None
    await audit_request(
        request, claims, "checked", target=f"program:{program}", detail={"people": len(ids)}
    )
    return web.json_response(
        {
            "program": program,
            "results": [
                {
                    "person_id": r.person_id,
                    "findings": [
                        {
                            "type": f.type,
                            "severity": f.severity,
                            "confidence": f.confidence,
                            "recommended_action": f.recommended_action,
                            "reason": f.reason,
                            "evidence": [
                                {"feed": e.feed, "record_id": e.record_id} for e in f.evidence
                            ],
                        }
                        for f in r.findings
                    ],
                }
                for r in results
            ],
        }
    )


def summary(alert: Alert) -> dict[str, Any]:
    """An alert as the list shows it: without its evidence and history."""
    body: dict[str, Any] = json.loads(alert.model_dump_json(exclude={"evidence", "history"}))
    body["evidence_feeds"] = sorted({e.feed for e in alert.evidence})
    return body


async def _person(request: web.Request, roles: frozenset[str]) -> Claims:
    claims = await caller(request)
    if claims.role not in roles:
        raise await forbid(request, claims, f"a {claims.role} token may not do this")
    return claims


async def _visible_alert(request: web.Request, claims: Claims) -> Alert:
    alert_id = request.match_info["alert_id"]
    alert = await inbox.get_alert(request.app[REDIS], alert_id)
    if alert is None:
        raise fail(web.HTTPNotFound, f"no alert {alert_id}")
    if not can_see(claims, alert, request.app[SETTINGS].policy):
        raise await forbid(request, claims, "this alert is outside your scope")
    return alert


async def _apply(request: web.Request, command: Command) -> Outcome | None:
    """Send the command to the worker and wait for its outcome (None: not applied in time)."""
    await request.app[COMMANDS].send(command)
    client = request.app[REDIS]
    key = names.command_result_key(command.command_id)
    deadline = asyncio.get_running_loop().time() + COMMAND_WAIT
    pause = 0.01
    while asyncio.get_running_loop().time() < deadline:
        raw = await client.get(key)
        if raw is not None:
            return Outcome.decode(raw)
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    return None


def _alert_response(alert: Alert) -> web.Response:
    return web.Response(text=alert.model_dump_json(), content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise fail(web.HTTPBadRequest, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise fail(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def _positive(query: Any, name: str, default: int, most: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise fail(web.HTTPBadRequest, f"{name} must be a whole number from 1 to {most}")
    return int(text)


def _refused(status: int, reason: str) -> web.HTTPException:
    kinds: dict[int, type[web.HTTPException]] = {
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        422: web.HTTPUnprocessableEntity,
    }
    return fail(kinds.get(status, web.HTTPConflict), reason)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
