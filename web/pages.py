"""The caseworkers' inbox in the browser: sign-in, the list, the detail of one alert.

Pages are rendered on the server (jinja2 templates in web/templates) from the same queries
and access checks as the API (alerts.inbox, web.access); web/static/inbox.js adds the live
updates (the event stream) and sends the actions to the API. Every word comes from
web.labels, every asset from web/static: nothing is loaded from anywhere else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from alerts import inbox
from alerts.lifecycle import RESOLUTIONS
from alerts.model import Alert
from connectors.ids import mask_id
from web import labels
from web.access import can_act, can_see, visible_index
from web.audit import audit_request
from web.auth import COOKIE, caller, forbid, refused, still_valid, unauthorized
from web.labels import Catalogue
from web.state import REDIS, SECRET, SETTINGS
from welfare_watch import names
from welfare_watch.tokens import ALL, Claims, TokenError, verify

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PER_PAGE = 50
MAX_TOKEN = 8192  # bytes: a sign-in form with more is not a token
CATALOGUE = web.AppKey("catalogue", Catalogue)
_PEOPLE = frozenset({"caseworker", "supervisor", "auditor"})
_FILTERS = tuple(inbox.Filters.__dataclass_fields__)
# Pages carry personal data: never cached, never framed, no script or style from elsewhere.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def setup(app: web.Application) -> None:
    """Templates, the catalogue, the static files and the page routes, on the app."""
    catalogue = Catalogue.of(app[SETTINGS])
    app[CATALOGUE] = catalogue
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    env.globals.update(L=catalogue, asset=_asset_urls(), ui=labels.UI, local_time=labels.local_time)
    app.router.add_get("/", inbox_page)
    app.router.add_get("/alerts/{alert_id}", detail_page)
    app.router.add_post("/api/session", sign_in)
    app.router.add_post("/api/session/logout", sign_out)
    app.router.add_static("/static", STATIC, append_version=False)


def _asset_urls() -> dict[str, str]:
    """`inbox.css` -> `/static/inbox.css?v=<hash>`: a changed file is never read from a cache."""
    urls = {}
    for path in sorted(STATIC.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        urls[path.name] = f"/static/{path.name}?v={digest}"
    return urls


# --- sign-in ------------------------------------------------------------------------------


async def sign_in(request: web.Request) -> web.StreamResponse:
    """`POST /api/session`: a person's token (form field or JSON `token`) checked, then kept in
    the HttpOnly cookie the pages and the event stream are authorised with."""
    wants_json = request.content_type == "application/json"
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return await _sign_in_refused(request, wants_json, "a sign-in from another site", 403)
    token = await _token_in(request, wants_json)
    if not token:
        return _sign_in_page(request, labels.UI["token_missing"], 400, wants_json)
    try:
        claims = verify(token, request.app[SECRET], dt.datetime.now(dt.UTC))
    except TokenError as exc:
        return await _sign_in_refused(request, wants_json, str(exc), 401)
    if not await still_valid(request, claims):
        return await _sign_in_refused(request, wants_json, "token revoked", 401, claims)
    if claims.role not in _PEOPLE:
        return await _sign_in_refused(request, wants_json, "not a person's token", 403, claims)
    await audit_request(request, claims, "signed_in")
    response: web.StreamResponse
    if wants_json:
        response = web.json_response(
            {"role": claims.role, "scope": claims.scope, "subject": claims.subject}
        )
    else:
        response = _see_other("/")
    max_age = int((claims.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(max_age, 0),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    """`POST /api/session/logout`: the cookie cleared (the token itself stays valid)."""
    wants_json = request.content_type == "application/json"
    response = web.json_response({"signed_out": True}) if wants_json else _see_other("/")
    response.del_cookie(COOKIE, path="/", samesite="Strict", secure=request.secure)
    return response


async def _token_in(request: web.Request, wants_json: bool) -> str:
    if request.content_length is not None and request.content_length > MAX_TOKEN:
        return ""
    if wants_json:
        try:
            body = await request.json()
        except ValueError:
            return ""
        value = body.get("token") if isinstance(body, dict) else None
    else:
        value = (await request.post()).get("token")
    return value.strip() if isinstance(value, str) else ""


async def _sign_in_refused(
    request: web.Request,
    wants_json: bool,
    reason: str,
    status: int,
    claims: Claims | None = None,
) -> web.Response:
    """A refused sign-in, recorded like any refused request; the person reads why in Chinese."""
    if status == 403 and claims is not None:
        await refused(request, claims, reason)
    else:
        await unauthorized(request, reason, claims)
    return _sign_in_page(request, labels.UI["token_rejected"], status, wants_json, reason)


def _sign_in_page(
    request: web.Request, message: str, status: int, wants_json: bool, reason: str = ""
) -> web.Response:
    if wants_json:
        return web.json_response({"error": reason or "no token given"}, status=status)
    response = aiohttp_jinja2.render_template(
        "signin.html", request, {"message": message}, status=status
    )
    response.headers.update(_PAGE_HEADERS)
    return response


# --- the list -----------------------------------------------------------------------------


async def inbox_page(request: web.Request) -> web.StreamResponse:
    """`GET /`: the sign-in page without a token, else the caller's alerts, one page of them."""
    claims = await _signed_in(request)
    if claims is None:
        stale = bool(request.cookies.get(COOKIE))
        response = _sign_in_page(request, labels.UI["session_ended"] if stale else "", 200, False)
        if stale:
            response.del_cookie(COOKIE, path="/", samesite="Strict", secure=request.secure)
        return response
    settings = request.app[SETTINGS]
    catalogue = request.app[CATALOGUE]
    query = request.rel_url.query
    filters = inbox.Filters(**{name: query.get(name, "").strip() for name in _FILTERS})
    number = _page_number(query.get("page", "1"))
    since = await _newest_event(request)  # before the query: the push replays what follows
    found = await inbox.list_alerts(
        request.app[REDIS],
        visible_index(claims, settings.policy),
        filters,
        number,
        PER_PAGE,
        lambda alert: can_see(claims, alert, settings.policy),
    )
    pages = max(1, math.ceil(found.total / PER_PAGE))
    if number > pages:  # past the end (the list got shorter): show the last page
        raise web.HTTPSeeOther(_page_url(filters, pages))
    now = dt.datetime.now(dt.UTC)
    context = {
        "claims": claims,
        "who": _who(claims, catalogue),
        "filters": filters,
        "options": _options(claims, catalogue),
        "counts": found.counts,
        "total": found.total,
        "page": number,
        "pages": pages,
        "previous_url": _page_url(filters, number - 1) if number > 1 else "",
        "next_url": _page_url(filters, number + 1) if number < pages else "",
        "severity_url": {s: _page_url(_with(filters, severity=s), 1) for s in found.counts},
        "rows": [row(alert, catalogue, now) for alert in found.alerts],
        "empty_row": _EMPTY_ROW,
        "script_data": _script_data(catalogue, filters, number, since),
    }
    return _render("inbox.html", request, context)


def row(alert: Alert, catalogue: Catalogue, now: dt.datetime) -> dict[str, Any]:
    """An alert as a line of the list: masked ID number and name, words for every code.

    web/static/inbox.js builds the same line from an alert that arrives by push."""
    return {
        "id": alert.alert_id,
        "href": f"/alerts/{alert.alert_id}",
        "severity": alert.severity,
        "severity_word": catalogue.severity(alert.severity),
        "type_word": catalogue.type(alert.type),
        "name": labels.mask_name(alert.person_name),
        "id_number": mask_id(alert.person_id),
        "program_word": catalogue.program(alert.program),
        "community": alert.community,
        "district_word": catalogue.district(alert.district_code),
        "status": alert.status,
        "status_word": catalogue.status(alert.status),
        "detected": labels.local_time(alert.detected_at),
        "due": labels.local_time(alert.due_by),
        "overdue": inbox.overdue_now(alert, now),
        "amount": _amount(alert),
    }


_EMPTY_ROW: dict[str, Any] = {
    "id": "",
    "href": "",
    "severity": "",
    "severity_word": "",
    "type_word": "",
    "name": "",
    "id_number": "",
    "program_word": "",
    "community": "",
    "district_word": "",
    "status": "",
    "status_word": "",
    "detected": "",
    "due": "",
    "overdue": False,
    "amount": "",
}


def _amount(alert: Alert) -> str:
    return f"{alert.amount_at_risk:,.2f}" if alert.amount_at_risk else ""


def _options(claims: Claims, catalogue: Catalogue) -> dict[str, list[tuple[str, str]]]:
    """The choices of each filter, as (code, word)."""
    options = {
        "status": list(labels.STATUSES.items()),
        "type": [(code, labels.type_option(code)) for code in labels.TYPE_NAMES],
        "severity": list(labels.SEVERITIES.items()),
        "program": list(catalogue.programs.items()),
        "district": [],
    }
    # Only those who see more than one district choose one.
    if claims.role == "auditor" or (
        claims.role == "supervisor" and claims.scope == catalogue.city_code
    ):
        options["district"] = [
            *catalogue.districts.items(),
            (catalogue.city_code, catalogue.city_name),
        ]
    return options


def _with(filters: inbox.Filters, **changes: str) -> inbox.Filters:
    values = {name: getattr(filters, name) for name in _FILTERS}
    return inbox.Filters(**{**values, **changes})


def _page_url(filters: inbox.Filters, number: int) -> str:
    params = [(name, getattr(filters, name)) for name in _FILTERS if getattr(filters, name)]
    if number > 1:
        params.append(("page", str(number)))
    return "/?" + urlencode(params) if params else "/"


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) <= 10**6 else 1


def _script_data(catalogue: Catalogue, filters: inbox.Filters, number: int, since: str) -> str:
    """What inbox.js needs, as JSON safe inside a <script type="application/json">.

    `since` is the newest alert event when the page was read: the script's event stream
    starts there, so a change written while the page loads is not missed."""
    data = {
        "labels": catalogue.for_script(),
        "filters": {name: getattr(filters, name) for name in _FILTERS},
        "page": number,
        "per_page": PER_PAGE,
        "since": since,
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- one alert ------------------------------------------------------------------------------


async def detail_page(request: web.Request) -> web.StreamResponse:
    """`GET /alerts/{id}`: the whole record, its evidence and history, and what can be done.

    A view of the full record is audited, as through the API."""
    claims = await _signed_in(request)
    if claims is None:
        raise web.HTTPSeeOther("/")
    settings = request.app[SETTINGS]
    catalogue = request.app[CATALOGUE]
    alert_id = request.match_info["alert_id"]
    since = await _newest_event(request)
    alert = await inbox.get_alert(request.app[REDIS], alert_id)
    if alert is None:
        return _message(request, claims, labels.UI["not_found"], 404)
    if not can_see(claims, alert, settings.policy):
        await forbid(request, claims, "this alert is outside your scope")
        return _message(request, claims, labels.UI["not_found"], 403)
    await audit_request(
        request, claims, "viewed", target=alert.alert_id, detail={"type": alert.type}
    )
    acts = can_act(claims, alert, settings.policy)
    context = {
        "claims": claims,
        "who": _who(claims, catalogue),
        "alert": alert,
        "row": row(alert, catalogue, dt.datetime.now(dt.UTC)),
        "explanation": catalogue.explain(
            alert.type, alert.program, alert.event_time, alert.amount_at_risk
        ),
        "evidence": sorted(alert.evidence, key=lambda e: (e.received_at, e.feed, e.record_id)),
        "history": [_history(entry, catalogue) for entry in reversed(alert.history)],
        "can_act": acts and alert.is_open,
        "can_reassign": acts and alert.is_open and claims.role == "supervisor",
        "read_only": not acts,
        "resolutions": [(code, labels.RESOLUTIONS[code]) for code in RESOLUTIONS],
        "script_data": _script_data(catalogue, inbox.Filters(), 1, since),
    }
    return _render("detail.html", request, context)


def _history(entry: Any, catalogue: Catalogue) -> dict[str, str]:
    """One line of the history: who, when, what, why — the system's notes in Chinese."""
    if entry.by == "system":
        who = catalogue.role("system")
        why = labels.SYSTEM_WHY.get(entry.action, "")
    else:
        role = catalogue.role(entry.role) if entry.role else ""
        who = f"{entry.by}（{role}）" if role else entry.by
        why = _person_why(entry.action, entry.why, catalogue)
    return {
        "at": labels.local_time(entry.at),
        "by": who,
        "what": catalogue.history(entry.action),
        "why": why,
    }


def _person_why(action: str, why: str, catalogue: Catalogue) -> str:
    """What a person wrote, with the resolution code before it in words (`false_match: …`)."""
    if action == "resolved":
        code, _, note = why.partition(":")
        if code.strip() in labels.RESOLUTIONS:
            word = catalogue.resolution(code.strip())
            return f"{word}：{note.strip()}" if note.strip() else word
    if action == "reassigned" and " → " in why:  # "cw-a → cw-b: note" (alerts.lifecycle)
        source, _, rest = why.partition(" → ")
        target, _, note = rest.partition(": ")
        moved = labels.UI["reassigned_why"].format(source=source, target=target)
        return f"{moved}：{note}" if note else moved
    return why


# --- shared -----------------------------------------------------------------------------------


async def _signed_in(request: web.Request) -> Claims | None:
    """The person whose cookie (or bearer token) this is; None to show the sign-in page.

    A visit without any token is not a refused request; a bad or revoked one is (and is
    recorded by web.auth)."""
    if not request.cookies.get(COOKIE) and "Authorization" not in request.headers:
        return None
    try:
        claims = await caller(request)
    except web.HTTPUnauthorized:
        return None
    if claims.role not in _PEOPLE:
        return None
    return claims


async def _newest_event(request: web.Request) -> str:
    """The id of the newest entry of the alert event stream ("" when there is none)."""
    newest = cast(
        list[tuple[bytes, object]], await request.app[REDIS].xrevrange(names.ALERT_EVENTS, count=1)
    )
    return newest[0][0].decode() if newest else ""


def _who(claims: Claims, catalogue: Catalogue) -> str:
    """The signed-in person as the header shows them: staff id, role and scope."""
    role = catalogue.role(claims.role)
    if claims.scope == ALL:
        scope = labels.UI["all"]
    elif claims.role == "supervisor":
        scope = catalogue.district(claims.scope)
    else:
        scope = claims.scope
    parts = [claims.subject, role] + ([scope] if scope != claims.subject else [])
    return " · ".join(parts)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _message(request: web.Request, claims: Claims, text: str, status: int) -> web.Response:
    catalogue = request.app[CATALOGUE]
    context = {"who": _who(claims, catalogue), "claims": claims, "text": text}
    return _render("message.html", request, context, status)


def _render(
    name: str, request: web.Request, context: dict[str, Any], status: int = 200
) -> web.Response:
    response = aiohttp_jinja2.render_template(name, request, context, status=status)
    response.headers.update(_PAGE_HEADERS)
    return response
