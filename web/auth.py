"""Who is calling: the token checked (signature, expiry, not revoked), the role and scope
enforced, and every refusal recorded.

A token comes in the `Authorization: Bearer` header or, for the inbox page, in the HttpOnly
cookie `ww_token` (the event stream a browser opens cannot send headers) — never in a URL,
which ends up in logs and browser history. A revoked token (`welfare-watch token revoke`) is
refused from its next request on: the revoked set is read on every request.
"""

from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web
from redis.exceptions import RedisError

from web.audit import audit_request
from web.errors import fail
from web.state import AUDIT, REDIS, SECRET
from welfare_watch import names
from welfare_watch.tokens import Claims, Role, TokenError, verify

audit_log = logging.getLogger("welfare_watch.audit")

COOKIE = "ww_token"  # the inbox page's session cookie (HttpOnly, SameSite=Strict)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="welfare-watch"'}
_URL_TOKENS = ("access_token", "token", COOKIE)  # query parameters a token must never travel in
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def caller(request: web.Request) -> Claims:
    """The verified claims of the request's token; 401 (recorded) without a good one."""
    token, from_cookie = await _presented(request)
    try:
        claims = verify(token, request.app[SECRET], dt.datetime.now(dt.UTC))
    except TokenError as exc:
        raise await unauthorized(request, str(exc)) from None
    if await _revoked(request, claims):
        raise await unauthorized(request, "token revoked", claims)
    if from_cookie and request.method not in _SAFE_METHODS and _cross_site(request):
        raise await forbid(request, claims, "a change sent from another site is refused")
    return claims


async def still_valid(request: web.Request, claims: Claims) -> bool:
    """Whether claims verified earlier still hold: not expired, not revoked since (a long-lived
    event stream asks this now and then, and ends when it is no longer so)."""
    if claims.expires_at <= dt.datetime.now(dt.UTC):
        return False
    return not await _revoked(request, claims)


async def require(request: web.Request, role: Role, scope: str) -> Claims:
    """The caller, if its token is for exactly this role and scope; else 401, or 403 recorded."""
    claims = await caller(request)
    await authorize(request, claims, role, scope)
    return claims


async def authorize(request: web.Request, claims: Claims, role: Role, scope: str) -> None:
    """403, recorded, unless the claims are for exactly this role and scope."""
    if not claims.allows(role, scope):
        raise await forbid(
            request, claims, f"{_a(claims.role)} token for {claims.scope!r} may not do this"
        )


async def forbid(request: web.Request, claims: Claims, reason: str) -> web.HTTPException:
    """The 403 to raise for a request outside its token's scope, once it is recorded."""
    await refused(request, claims, reason)
    return fail(web.HTTPForbidden, reason)


async def refused(request: web.Request, claims: Claims, reason: str = "outside its scope") -> None:
    """Record a request refused because it is outside its token's scope (403)."""
    await _record(request, "refused", claims, reason)


async def unauthorized(
    request: web.Request, reason: str, claims: Claims | None = None
) -> web.HTTPException:
    """The 401 to raise for a request without a good token, once it is recorded. `claims` are
    given when the token itself verified (a revoked one): the record then names its id."""
    await _record(request, "unauthorized", claims, reason)
    return fail(web.HTTPUnauthorized, reason, headers=_CHALLENGE)


async def _record(request: web.Request, action: str, claims: Claims | None, reason: str) -> None:
    """The one place refused and unauthorized requests are recorded: an entry on the audit
    chain (`web.audit.audit_request`: the token's subject, role and id when it verified) and an
    operator's log line.

    Only the token's role, scope and id, the request's method and path (never its query) and
    the short reason: no body, no personal data.
    """
    if AUDIT in request.app:  # a refusal that cannot be recorded is still refused (logged)
        await audit_request(request, claims, action, detail={"reason": reason})
    who = (
        ""
        if claims is None
        else f"role={claims.role} scope={claims.scope} token={claims.token_id} "
    )
    audit_log.warning(
        "%s: %s%s %s: %s", action, who, request.method, request.rel_url.raw_path, reason
    )


async def _presented(request: web.Request) -> tuple[str, bool]:
    """The token the request carries, and whether it came in the cookie; 401 if none."""
    if any(name in request.rel_url.query for name in _URL_TOKENS):
        raise await unauthorized(
            request,
            "a token in a URL is refused (URLs are logged): send 'Authorization: Bearer <token>'",
        )
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise await unauthorized(request, "the Authorization header is not 'Bearer <token>'")
        return token.strip(), False
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        return cookie, True
    raise await unauthorized(request, "no token: send 'Authorization: Bearer <token>' or sign in")


async def _revoked(request: web.Request, claims: Claims) -> bool:
    """Whether the token was revoked; 503 when Redis cannot say (never let a revoked one in)."""
    try:
        return bool(await request.app[REDIS].sismember(names.REVOKED_TOKENS, claims.token_id))
    except (RedisError, OSError) as exc:
        raise fail(
            web.HTTPServiceUnavailable,
            f"cannot check whether the token was revoked: Redis did not answer "
            f"({type(exc).__name__}); try again shortly",
        ) from None


def _a(role: str) -> str:
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def _cross_site(request: web.Request) -> bool:
    """A browser says a request comes from another site (Fetch Metadata): with the cookie, a
    change must come from the inbox page itself, on top of the cookie's SameSite=Strict."""
    site = request.headers.get("Sec-Fetch-Site", "same-origin")
    return site not in ("same-origin", "none")
